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
	ID        string          `json:"id"`
	Kind      Kind            `json:"type"`
	Threshold time.Duration   `json:"threshold,omitempty"`
	Reason    Reason          `json:"reason,omitempty"`
	Version   scanner.Version `json:"version"`
	// Since is when the version was first announced on the channel (resolved events; Alertmanager's
	// startsAt).
	Since time.Time `json:"since,omitzero"`
	// Severity is the Alertmanager severity; PreviousSeverity the one announced before, if it changed.
	Severity         string `json:"severity,omitempty"`
	PreviousSeverity string `json:"previousSeverity,omitempty"`
	// Workloads lists what still uses the version (from the audit), for the message.
	Workloads []string `json:"workloads,omitempty"`
}

// versionKey names one soft deletion of a version: deleted, recovered and deleted again is a new
// key, so it is announced afresh.
func versionKey(v scanner.Version) string {
	return strings.ToLower(v.ID) + "@" + v.SoftDeletedAt.UTC().Format(time.RFC3339Nano)
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

// severity is the Alertmanager severity of an event: critical within a day of the purge or once
// unusable, warning before.
func severity(kind Kind, threshold time.Duration) string {
	if kind == KindUnusable || (kind == KindExpiring && threshold <= 24*time.Hour) {
		return "critical"
	}
	return "warning"
}

// due lists the events a snapshot calls for at now, before deduplication. thresholds are sorted
// loosest first. A version already below several thresholds yields only the tightest; an overdue
// version (past purgeAt, still listed) is below every one.
func due(snap *scanner.Snapshot, now time.Time, thresholds []time.Duration) []Event {
	var out []Event
	for _, v := range snap.Versions {
		key := versionKey(v)
		users := workloads(snap, v)
		left := v.PurgeAt.Sub(now)
		var tightest time.Duration
		for _, t := range thresholds {
			if left <= t {
				tightest = t
			}
		}
		if tightest > 0 {
			out = append(out, Event{ID: eventID(key, KindExpiring, tightest), Kind: KindExpiring, Threshold: tightest,
				Version: v, Severity: severity(KindExpiring, tightest), Workloads: users})
		}
		if !now.Before(v.ConsumptionEndsAt) && now.Before(v.PurgeAt) {
			out = append(out, Event{ID: eventID(key, KindUnusable, 0), Kind: KindUnusable, Version: v,
				Severity: severity(KindUnusable, 0), Workloads: users})
		}
	}
	return out
}

// workloads names the VMs and scale sets the audit found still created from v: "VM web-1",
// "scale set api".
func workloads(snap *scanner.Snapshot, v scanner.Version) []string {
	var out []string
	for _, w := range snap.References[strings.ToLower(v.ID)] {
		kind := "VM"
		if w.Kind == "vmss" {
			kind = "scale set"
		}
		out = append(out, kind+" "+w.ID[strings.LastIndex(w.ID, "/")+1:])
	}
	return out
}
