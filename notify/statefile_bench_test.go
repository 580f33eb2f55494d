package notify

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// stateEstate is n soft-deleted versions as a real estate names them: 20 to an image definition,
// with the Activity Log's deleter.
func stateEstate(n int, now time.Time) []scanner.Version {
	out := make([]scanner.Version, n)
	var def *scanner.Definition
	for i := range out {
		if i%20 == 0 {
			def = &scanner.Definition{SubscriptionID: fmt.Sprintf("1f0c3a52-6d0e-4b8e-9a51-%012d", i/20000), ResourceGroup: "rg-shared-images-westeurope",
				Gallery: "gal_platform_prod", Image: fmt.Sprintf("ubuntu-2404-hardened-%05d", i/20)}
		}
		deleted := now.Add(-time.Duration(i%3000) * time.Minute)
		out[i] = scanner.Version{Definition: def, Version: fmt.Sprintf("2026.%d.%d", i%20, i%1000), Location: "westeurope",
			SoftDeletedAt: deleted, ConsumptionEndsAt: deleted.Add(5 * 24 * time.Hour), PurgeAt: deleted.Add(7 * 24 * time.Hour),
			PurgeAtSource: scanner.SourceComputed, RetainedBytes: 64 << 30,
			DeletedBy: &scanner.Deletion{Caller: "image-pipeline@contoso.com", PrincipalType: "ServicePrincipal", AppID: "9f3b1c2d-0000-4000-8000-00000000c0de",
				ObjectID: "5e1f0a2b-0000-4000-8000-0000000b0b01", ClientIP: "203.0.113.7", At: deleted, CorrelationID: fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i)}}
	}
	return out
}

// BenchmarkTheStateFile: the state file's weight with one webhook channel after a first scan that
// announces every version (notify.thresholds: [168h]) and delivers them all (the file's high-water
// mark), then after the next scan, whose housekeeping compacted it (what it weighs from then on). PURGEWATCH_STATE_VERSIONS sets the versions (10,000); PURGEWATCH_STATE_KEEP keeps a copy.
func BenchmarkTheStateFile(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("PURGEWATCH_STATE_VERSIONS")); err == nil {
		n = v
	}
	for b.Loop() {
		rx := newReceiver(b)
		h := newHarness(b, webhookChannel("hook", rx.srv.URL))
		h.set.Thresholds = []time.Duration{168 * time.Hour}
		h.n.Configure(h.set)
		snap := snapshot(t0, stateEstate(n, t0)...)
		h.scan(snap, nil)
		if tally, _ := h.file.Counts(); tally.Pending["hook"] != 0 {
			b.Fatalf("%d events still pending", tally.Pending["hook"])
		}
		first := h.file.Size()
		h.clock.Advance(15 * time.Minute) // the next scan
		snap.ScannedAt = h.clock.Now()
		if err := h.n.Announce(context.Background(), snap, nil, scanner.Coverage{Complete: true, Since: snap.ScannedAt}); err != nil {
			b.Fatal(err)
		}
		settled := h.file.Size()
		if keep := os.Getenv("PURGEWATCH_STATE_KEEP"); keep != "" {
			data, _ := os.ReadFile(h.path)
			_ = os.WriteFile(keep, data, 0o600)
		}
		b.ReportMetric(float64(first)/float64(n), "B/version-first-scan")
		b.ReportMetric(float64(settled)/float64(n), "B/version")
		_ = h.n.deliverAll(context.Background())
	}
}
