// Package notify warns people before a soft-deleted version becomes unusable or is purged. Events
// come from each scan's snapshot, are deduplicated against a persisted notification log, queued per
// channel in the same store, sent, retried with backoff until delivered, and recorded: each warning
// arrives once per channel and none is lost across restarts.
package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// Kind is what an event announces.
type Kind string

const (
	// KindExpiring: the version's time left has fallen to or below a threshold.
	KindExpiring Kind = "expiring"
	// KindUnusable: consumptionEndsAt has passed but purgeAt has not; it can still be recovered.
	KindUnusable Kind = "unusable"
	// KindResolved: an announced version has left the recycle bin.
	KindResolved Kind = "resolved"
	// KindDeleted: a version that is not routine is in the recycle bin, announced the first time
	// it is seen so: who may need it has the whole retention to recover it.
	KindDeleted Kind = "deleted"
	// KindConsumedDeleted: another publisher soft-deleted a shared or community gallery image
	// version this estate's workloads are created from; only the publisher can recover it.
	KindConsumedDeleted Kind = "consumed-deleted"
)

// Reason says why a version left the recycle bin.
type Reason string

const (
	ReasonRecovered Reason = "recovered" // the live version exists again
	ReasonPurged    Reason = "purged"    // it left at or after purgeAt
	ReasonGone      Reason = "gone"      // it left before purgeAt, not recovered
)

// Event is one announcement about one soft deletion of one version.
type Event struct {
	// ID is stable for (version, soft-delete time, kind, threshold).
	ID        string        `json:"id"`
	Kind      Kind          `json:"type"`
	Threshold time.Duration `json:"threshold,omitempty"`
	// Deadline is what an expiring event counts down to: the consumption end (only where it comes
	// before the purge) or the purge.
	Deadline scanner.Deadline `json:"deadline,omitempty"`
	Reason   Reason           `json:"reason,omitempty"`
	Version  scanner.Version  `json:"version"`
	// Since is when the version was first announced on the channel (resolved events; Alertmanager's
	// startsAt).
	Since time.Time `json:"since,omitzero"`
	// Severity is the Alertmanager severity; PreviousSeverity the one announced before, if it changed.
	Severity         string `json:"severity,omitempty"`
	PreviousSeverity string `json:"previousSeverity,omitempty"`
	// Workloads lists what still uses the version (from the audit), for the message.
	Workloads []string `json:"workloads,omitempty"`
	// Judged and Reasons are the version's triage when the event was made (Version's own is not
	// kept in the outbox): whether it was judged, and the reasons it is not routine.
	Judged  bool     `json:"judged,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	// Scan is set on scan-failing events and their scan-recovered resolutions, which are about
	// purgewatch's sight of the estate, not one version (Version is then empty).
	Scan *ScanFailure `json:"scan,omitempty"`
	// Digest is set on the routine digest (digest.go), which is about many versions (Version is
	// then empty).
	Digest *Digest `json:"digest,omitempty"`
	// Consumed is the other publisher's version of a consumed-deleted event, which is about no
	// version of this estate, alone in its message with the others of its kind.
	Consumed *scanner.ConsumedVersion `json:"consumed,omitempty"`
	// Test marks `purgewatch notify test`'s sample, about a made-up version: every channel says so.
	Test bool `json:"test,omitempty"`
	// key is versionKey(Version), when the event was made from a version; not kept in the outbox.
	key string
}

// At is when the event's deadline falls: the consumption end for an expiring event about it,
// otherwise the purge.
func (e Event) At() time.Time {
	if e.Deadline == scanner.DeadlineConsumptionEnd {
		return e.Version.ConsumptionEndsAt
	}
	return e.Version.PurgeAt
}

// vkey is versionKey(e.Version), made once where the event is (a scan asks it of each event
// several times: 100,000 strings of 200 bytes each time).
func (e Event) vkey() string {
	if e.key != "" {
		return e.key
	}
	return versionKey(e.Version)
}

// versionKey names one soft deletion of a version: deleted, recovered and deleted again is a new
// key, so it is announced afresh.
func versionKey(v scanner.Version) string {
	return strings.ToLower(v.ID()) + "@" + v.SoftDeletedAt.UTC().Format(time.RFC3339Nano)
}

func eventID(vkey string, kind Kind, threshold time.Duration) string {
	h := sha256.Sum256([]byte(vkey + "|" + string(kind) + "|" + strconv.FormatInt(int64(threshold), 10)))
	return hex.EncodeToString(h[:12])
}

// FormatThreshold writes a threshold as people write it: 72h, 90m.
func FormatThreshold(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// severity is the Alertmanager severity of an event: critical once unusable, within a day of its
// deadline, or while workloads still use the version; warning before, and always for a routine
// version (superseded and unused: nothing breaks when it goes).
func severity(kind Kind, threshold time.Duration, inUse, routine bool) string {
	if !routine && (kind == KindUnusable || inUse || (kind == KindExpiring && threshold <= scanner.CriticalWithin)) {
		return "critical"
	}
	return "warning"
}

// expiringID names an expiring event. The purge deadline keeps the ids of the releases that had
// no other, so a notification log carried over an upgrade announces nothing twice.
func expiringID(vkey string, d scanner.Deadline, threshold time.Duration) string {
	if d == scanner.DeadlinePurge {
		return eventID(vkey, KindExpiring, threshold)
	}
	return eventID(vkey+"|"+string(d), KindExpiring, threshold)
}

// due lists the events a snapshot calls for at now, before deduplication. A version that is not
// routine is due a deleted event, which dedupe lets through once. Thresholds apply to both
// deadlines; a version already below several thresholds of one deadline yields only the
// tightest, and an overdue version (past purgeAt, still listed) is below every one. The
// consumption end is announced only while ahead and before the purge; once passed, the version
// is unusable. A routine version is due deadline events only when notify.routine is warn.
func due(snap *scanner.Snapshot, inUse map[string][]scanner.Workload, now time.Time, thresholds []time.Duration, routine string) []Event {
	// Counted first, then made: an Event is some 400 bytes, and at 100,000 versions a list grown a
	// quarter at a time copied hundreds of MB every scan.
	n := 0
	eachDue(snap, now, thresholds, routine, func(*scanner.Version, Kind, scanner.Deadline, time.Duration) { n++ })
	out := make([]Event, 0, n)
	var (
		last  *scanner.Version
		key   string
		users []string
	)
	eachDue(snap, now, thresholds, routine, func(v *scanner.Version, kind Kind, dl scanner.Deadline, tightest time.Duration) {
		if v != last {
			last, key, users = v, versionKey(*v), workloads(inUse, *v)
		}
		inUse, r := len(users) > 0, v.Routine()
		e := Event{Kind: kind, Version: *v, Workloads: users, Judged: v.Triage != nil, Reasons: v.Triage, Severity: severity(kind, tightest, inUse, r), key: key}
		switch kind {
		case KindDeleted: // it counts down to what comes first: the consumption end, or the purge
			e.ID, e.Deadline = eventID(key, kind, 0), scanner.DeadlinePurge
			if v.HasGrace() && now.Before(v.ConsumptionEndsAt) {
				e.Deadline = scanner.DeadlineConsumptionEnd
			}
		case KindUnusable:
			e.ID = eventID(key, kind, 0)
		default:
			e.ID, e.Threshold, e.Deadline = expiringID(key, dl, tightest), tightest, dl
			e.PreviousSeverity = previousSeverity(tightest, thresholds, inUse, r)
		}
		out = append(out, e)
	})
	return out
}

// eachDue calls fn for each event snap calls for at now: deleted for a version judged not
// routine, per deadline the tightest threshold it crossed (an expiring event), and unusable for a
// version past its consumption end, not yet purged; for a routine version, the deadline events
// only when routine is warn.
func eachDue(snap *scanner.Snapshot, now time.Time, thresholds []time.Duration, routine string, fn func(v *scanner.Version, kind Kind, dl scanner.Deadline, tightest time.Duration)) {
	for i := range snap.Versions {
		v := &snap.Versions[i]
		switch {
		case v.Triage == nil: // not judged (a test, a tool): the deadlines alone
		case !v.Routine():
			fn(v, KindDeleted, "", 0)
		case routine != config.RoutineWarn:
			continue
		}
		if tightest := scanner.Crossed(v.PurgeAt.Sub(now), thresholds); tightest != 0 {
			fn(v, KindExpiring, scanner.DeadlinePurge, tightest)
		}
		if v.HasGrace() && now.Before(v.ConsumptionEndsAt) {
			if tightest := scanner.Crossed(v.ConsumptionEndsAt.Sub(now), thresholds); tightest != 0 {
				fn(v, KindExpiring, scanner.DeadlineConsumptionEnd, tightest)
			}
		}
		if !now.Before(v.ConsumptionEndsAt) && now.Before(v.PurgeAt) {
			fn(v, KindUnusable, "", 0)
		}
	}
}

// previousSeverity is the severity the deadline's previous (looser) threshold was announced with,
// where it differs from this one's: Alertmanager ends that alert when this one starts.
func previousSeverity(threshold time.Duration, thresholds []time.Duration, inUse, routine bool) string {
	var looser time.Duration
	for _, t := range thresholds {
		if t > threshold && (looser == 0 || t < looser) {
			looser = t
		}
	}
	if looser == 0 {
		return ""
	}
	if prev, now := severity(KindExpiring, looser, inUse, routine), severity(KindExpiring, threshold, inUse, routine); prev != now {
		return prev
	}
	return ""
}

// workloads names the VMs and scale sets the audit found still created from v: "VM web-1",
// "scale set api".
func workloads(inUse map[string][]scanner.Workload, v scanner.Version) []string {
	if len(inUse) == 0 {
		return nil
	}
	var out []string
	for _, w := range inUse[strings.ToLower(v.ID())] {
		kind := "VM"
		if w.Kind == "vmss" {
			kind = "scale set"
		}
		out = append(out, kind+" "+w.ID[strings.LastIndex(w.ID, "/")+1:])
	}
	return out
}
