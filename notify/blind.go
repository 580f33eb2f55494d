package notify

import (
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// KindScanFailing: purgewatch has not read the whole estate for notify.blindAfter; what it
// reports is no all-clear until a complete scan resolves it (reason scan-recovered).
const KindScanFailing Kind = "scan-failing"

// ReasonScanRecovered resolves a scan-failing event: a scan read everything again.
const ReasonScanRecovered Reason = "scan-recovered"

// AlertBlind is the Alertmanager alert of a scan-failing event.
const AlertBlind = "PurgewatchNoCompleteScan" // the rules' alert of the same state

// maxScanErrors keeps a scan-failing message short; the status page lists every failure.
const maxScanErrors = 5

// ScanFailure is what a scan-failing event (and its resolution) says.
type ScanFailure struct {
	// Since is when the estate was last seen whole, or when purgewatch started if never.
	Since  time.Time            `json:"since"`
	Errors []scanner.ScopeError `json:"errors,omitempty"`
	More   int                  `json:"more,omitempty"`
	Advice []string             `json:"advice,omitempty"`
}

func scanFailure(cov scanner.Coverage) *ScanFailure {
	f := &ScanFailure{Since: cov.Since.UTC()}
	for i, e := range cov.Errors {
		if i == maxScanErrors {
			f.More = len(cov.Errors) - maxScanErrors
			break
		}
		f.Errors = append(f.Errors, e)
	}
	for _, e := range cov.Errors {
		if a := e.Advice(); len(f.Advice) < maxScanErrors && !contains(f.Advice, a) {
			f.Advice = append(f.Advice, a)
		}
	}
	return f
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// blindKey names one blind episode: from the last time the estate was seen whole.
func blindKey(since time.Time) string { return "scan@" + since.UTC().Format(time.RFC3339Nano) }
