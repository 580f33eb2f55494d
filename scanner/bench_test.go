package scanner_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/scanner"
)

// benchEstate is subs × galleries × images × versions, every version soft-deleted.
func benchEstate(subs, galleries, images, versions int) armsim.Estate {
	return armsim.Synthetic(time.Now(), subs, galleries, images, versions)
}

// BenchmarkScan is the estate of issue 2: 50 subscriptions × 4 galleries × 25 image definitions ×
// 4 soft-deleted versions, with 20 ms of simulated latency on every ARM request. Figures are in
// docs/benchmarks.md. The simulator runs in the same process, so allocations include its own.
func BenchmarkScan(b *testing.B) {
	for _, concurrency := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			sim := armsim.New(benchEstate(50, 4, 25, 4), armsim.Options{Latency: 20 * time.Millisecond})
			srv := httptest.NewServer(sim)
			defer srv.Close()
			pl, err := arm.New(arm.Options{Endpoint: srv.URL, Concurrency: concurrency})
			if err != nil {
				b.Fatal(err)
			}
			s := scanner.New(scanner.Options{Pipeline: pl, Concurrency: concurrency, Clock: clock.Real{}})
			b.ReportAllocs()
			var snap *scanner.Snapshot
			for b.Loop() {
				if snap, err = s.Scan(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			if len(snap.Errors) != 0 || len(snap.Versions) != 50*4*25*4 {
				b.Fatalf("versions %d, errors %d", len(snap.Versions), len(snap.Errors))
			}
			b.ReportMetric(float64(snap.Stats.Requests), "requests/scan")
			b.ReportMetric(float64(len(snap.Versions)), "versions/scan")
		})
	}
}
