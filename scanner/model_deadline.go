package scanner

import (
	"cmp"
	"slices"
	"time"
)

// Deadline names one of a soft-deleted version's two deadlines.
type Deadline string

const (
	// DeadlineConsumptionEnd: VMs and scale-outs from the version start failing. A deadline of
	// its own only in galleries with a grace period, where it comes before the purge.
	DeadlineConsumptionEnd Deadline = "consumptionEnd"
	// DeadlinePurge: the version is gone for good.
	DeadlinePurge Deadline = "purge"
)

// HasGrace reports whether the version stops being usable before it is purged, so that its
// consumption end is a deadline of its own.
func (v Version) HasGrace() bool { return v.ConsumptionEndsAt.Before(v.PurgeAt) }

// NextDeadline is the version's next deadline at now and when it falls: its consumption end while
// that is still ahead and comes before the purge, otherwise its purge (which may be past).
func (v Version) NextDeadline(now time.Time) (Deadline, time.Time) {
	if v.HasGrace() && now.Before(v.ConsumptionEndsAt) {
		return DeadlineConsumptionEnd, v.ConsumptionEndsAt
	}
	return DeadlinePurge, v.PurgeAt
}

// Urgency is how pressing a version is: the colour of its row, the severity of its alerts.
type Urgency string

const (
	UrgencyOverdue  Urgency = "overdue"  // past its purge time, still listed
	UrgencyCritical Urgency = "critical" // a deadline within a crossed threshold of a day or less, or in use
	UrgencyUnusable Urgency = "unusable" // past its consumption end, recoverable until the purge
	UrgencyWarning  Urgency = "warning"  // a deadline within a crossed threshold
	UrgencyOK       Urgency = "ok"
)

// CriticalWithin is the threshold at or under which a crossed threshold makes a version critical.
const CriticalWithin = 24 * time.Hour

// Crossed returns the tightest of thresholds (any order) that left has fallen to, or 0 for none.
func Crossed(left time.Duration, thresholds []time.Duration) time.Duration {
	var tightest time.Duration
	for _, t := range thresholds {
		if left <= t && (tightest == 0 || t < tightest) {
			tightest = t
		}
	}
	return tightest
}

// Urgency judges the version at now against the notification thresholds; inUse says workloads
// are still created from it. One rule for the page, the scan table, and alert severities.
func (v Version) Urgency(now time.Time, thresholds []time.Duration, inUse bool) Urgency {
	if !now.Before(v.PurgeAt) {
		return UrgencyOverdue
	}
	deadline, at := v.NextDeadline(now)
	crossed := Crossed(at.Sub(now), thresholds)
	switch {
	case deadline == DeadlinePurge && !now.Before(v.ConsumptionEndsAt) && v.HasGrace():
		if inUse || (crossed > 0 && crossed <= CriticalWithin) {
			return UrgencyCritical
		}
		return UrgencyUnusable
	case inUse || (crossed > 0 && crossed <= CriticalWithin):
		return UrgencyCritical
	case crossed > 0:
		return UrgencyWarning
	}
	return UrgencyOK
}

// Phases of a version in the bin, as the page's and the API's state filter name them.
const (
	PhaseUsable   = "usable"
	PhaseUnusable = "unusable" // past its consumption end, recoverable until the purge
	PhaseOverdue  = "overdue"  // past its purge time, still listed
)

// Phase is where a version stands at now: usable, unusable or overdue.
func (v Version) Phase(now time.Time) string {
	switch {
	case !now.Before(v.PurgeAt):
		return PhaseOverdue
	case !now.Before(v.ConsumptionEndsAt):
		return PhaseUnusable
	}
	return PhaseUsable
}

// State says what can still be done with a version, in words.
func (v Version) State(now time.Time) string {
	switch v.Phase(now) {
	case PhaseOverdue:
		return "purge due"
	case PhaseUnusable:
		return "unusable, recoverable"
	}
	return "usable, recoverable"
}

// ByNextDeadline returns the versions in a new slice, the soonest next deadline first, then by id:
// the order a person acts in.
func ByNextDeadline(vs []Version, now time.Time) []Version {
	out := make([]Version, 0, len(vs))
	for _, i := range NextDeadlineOrder(vs, now) {
		out = append(out, vs[i])
	}
	return out
}

// NextDeadlineOrder is ByNextDeadline as indexes into vs: what a page of a large state sorts at
// each request, 4 bytes a version rather than a copy of each.
func NextDeadlineOrder(vs []Version, now time.Time) []int32 {
	order := make([]int32, len(vs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &vs[i], &vs[j]
		_, x := a.NextDeadline(now)
		_, y := b.NextDeadline(now)
		return cmp.Or(x.Compare(y), CompareIDs(a, b))
	})
	return order
}
