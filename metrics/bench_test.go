package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/purgewatch/purgewatch/internal/status"
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
// state (galleries of 100), through the Exposition, asked as Prometheus asks (OpenMetrics and
// gzip) and as a person with curl does (text, plain). Figures: docs/benchmarks.md.
func BenchmarkScrape(b *testing.B) {
	const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	for _, versions := range []int{1000, 100000} {
		view := &status.State{Snapshot: benchSnapshot(versions/100, 100)}
		for _, relative := range []bool{true, false} {
			for _, as := range []struct{ name, accept, encoding string }{{"prometheus", prometheusAccept, "gzip"}, {"text", "text/plain", ""}} {
				b.Run(fmt.Sprintf("versions=%d/relative=%v/%s", versions, relative, as.name), func(b *testing.B) {
					reg := prometheus.NewRegistry()
					reg.MustRegister(NewSnapshotCollector(func() *status.State { return view }))
					e := NewExposition(reg, func() *status.State { return view }, time.Now, relative, nil)
					req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
					req.Header.Set("Accept", as.accept)
					if as.encoding != "" {
						req.Header.Set("Accept-Encoding", as.encoding)
					}
					w := &discard{h: http.Header{}}
					e.ServeHTTP(w, req) // the first scrape after a scan renders the state; measure the rest
					b.ReportAllocs()
					for b.Loop() {
						w.n = 0
						e.ServeHTTP(w, req)
					}
					b.ReportMetric(float64(w.n)/1e6, "MB/scrape")
				})
			}
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
			snap.Versions = append(snap.Versions, scanner.Version{Definition: &scanner.Definition{SubscriptionID: sub, ResourceGroup: gal.ResourceGroup, Gallery: gal.Name, Image: fmt.Sprintf("image%02d", v%25)},
				Version: fmt.Sprintf("1.%d.%d", g, v), Location: gal.Location,
				SoftDeletedAt: deleted, ConsumptionEndsAt: deleted.Add(7 * 24 * time.Hour), PurgeAt: deleted.Add(7 * 24 * time.Hour)})
		}
	}
	return snap
}

// BenchmarkRender is what the first scrape after a scan pays at 100,000 versions: the version and
// gallery families rendered in OpenMetrics and gzipped, as Prometheus asks.
func BenchmarkRender(b *testing.B) {
	view := &status.State{Snapshot: benchSnapshot(1000, 100)}
	b.ReportAllocs()
	for b.Loop() {
		c := &cached{rendering: newRendering(view, nil)}
		if len(c.body(true)) == 0 {
			b.Fatal("empty")
		}
	}
}
