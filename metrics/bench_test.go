package metrics

import (
	"fmt"
	"github.com/purgewatch/purgewatch/internal/status"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/purgewatch/purgewatch/scanner"
)

// discard is a ResponseWriter that counts and drops the body.
type discard struct {
	h http.Header
	n int64
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }
func (d *discard) WriteHeader(int)             {}

var _ io.Writer = (*discard)(nil)

// BenchmarkScrape is one /metrics scrape with 1,000 and 100,000 soft-deleted versions in the
// snapshot (galleries of 100), through promhttp as Prometheus sees it. Figures: docs/benchmarks.md.
func BenchmarkScrape(b *testing.B) {
	for _, versions := range []int{1000, 100000} {
		view := &status.State{Snapshot: benchSnapshot(versions/100, 100)}
		for _, relative := range []bool{true, false} {
			b.Run(fmt.Sprintf("versions=%d/relative=%v", versions, relative), func(b *testing.B) {
				reg := prometheus.NewRegistry()
				reg.MustRegister(NewSnapshotCollector(func() *status.State { return view }, time.Now, relative))
				h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("Accept", "text/plain")
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, req) // the first scrape after a scan builds the series; measure the rest
				b.ReportAllocs()
				for b.Loop() {
					w.n = 0
					h.ServeHTTP(w, req)
				}
				b.ReportMetric(float64(w.n)/1e6, "MB/scrape")
			})
		}
	}
}

func benchSnapshot(galleries, perGallery int) *scanner.Snapshot {
	snap := &scanner.Snapshot{ScannedAt: now}
	for g := range galleries {
		sub := fmt.Sprintf("%08d-0000-4000-8000-000000000000", g%50)
		gal := scanner.Gallery{ID: fmt.Sprint("g", g), SubscriptionID: sub, ResourceGroup: "rg-images", Name: fmt.Sprintf("gallery%04d", g),
			Location: "westeurope", SoftDeleteEnabled: true, RetentionDays: 7}
		snap.Galleries = append(snap.Galleries, gal)
		for v := range perGallery {
			deleted := now.Add(-time.Duration(v) * time.Hour)
			snap.Versions = append(snap.Versions, scanner.Version{SubscriptionID: sub, ResourceGroup: gal.ResourceGroup,
				Gallery: gal.Name, Image: fmt.Sprintf("image%02d", v%25), Version: fmt.Sprintf("1.%d.%d", g, v), Location: gal.Location,
				SoftDeletedAt: deleted, ConsumptionEndsAt: deleted.Add(7 * 24 * time.Hour), PurgeAt: deleted.Add(7 * 24 * time.Hour)})
		}
	}
	return snap
}
