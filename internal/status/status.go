// Package status is what the daemon publishes after each scan, for everything that reads it:
// the metrics collector, the status page and the API. It holds data, not behaviour.
package status

import (
	"time"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/scanner"
)

// Scan results, the values of purgewatch_scans_total's result label.
const (
	ResultSuccess = "success"
	ResultPartial = "partial"
	ResultFailed  = "failed"
	ResultSkipped = "skipped"
)

// SubscriptionHealth is one subscription's scan record.
type SubscriptionHealth struct {
	ID string
	// Success is true when the subscription's last scan read every scope under it.
	Success     bool
	LastSuccess time.Time // zero until a scan succeeded
}

// ScanRecord is one scan as the status page lists it.
type ScanRecord struct {
	Started  time.Time
	Duration time.Duration
	Result   string // ResultSuccess, ResultPartial, ResultFailed or ResultSkipped
	Versions int
	Errors   []scanner.ScopeError
	// Err is why a failed scan read nothing.
	Err string
	// AuditErrors are the scopes the audit could not read (VMs, scale sets, live versions).
	AuditErrors []scanner.ScopeError
}

// State is everything the daemon knows, replaced whole after each scan and never written
// once published: metrics, the page and the API read it as it is.
type State struct {
	// Snapshot is the latest scan merged over the last good data of its failed scopes; nil
	// until a scan has read something.
	Snapshot      *scanner.Snapshot
	Subscriptions []SubscriptionHealth
	History       []ScanRecord // newest first
	// Ready is true once the first scan has finished, whatever its result.
	Ready bool
	// Audit is the last audit's report; nil when auditing is off or has not run.
	Audit *audit.Report
	// LastComplete is when the last scan that read every scope started; zero until one has.
	LastComplete time.Time
	// Started is when the daemon started: how long a daemon that never completed a scan has
	// been blind.
	Started time.Time
}

// Healthy reports whether the latest scan read everything it should.
func (s *State) Healthy() bool {
	return len(s.History) > 0 && s.History[0].Result == ResultSuccess
}

// BlindSince is when the daemon last saw the whole estate (or started, if it never has).
func (s *State) BlindSince() time.Time {
	if s.LastComplete.IsZero() {
		return s.Started
	}
	return s.LastComplete
}
