package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
)

// BenchmarkWorstBodies answers every recycle-bin listing with the heaviest body purgewatch
// accepts (cmd/armsim -heavy-bins): one long string (padded), or empty objects, which the SDK's
// decode holds 22 bytes of heap a byte for (dense). purgewatch runs as the chart's default pod
// does, at the default concurrency, with Go's memory limit at 90 % of 256 MiB; the figure is the
// peak RSS (VmHWM) over three scans, each of which reads 64 such bodies.
func BenchmarkWorstBodies(b *testing.B) {
	for _, kind := range []string{"padded", "dense"} {
		b.Run(kind, func(b *testing.B) { worstBodies(b, kind) })
	}
}

// The worst-bodies estate: 2 subscriptions × 4 galleries × 8 image definitions, 64 bins.
const heavySubs, heavyGalleries, heavyImages = 2, 4, 8

func worstBodies(b *testing.B, kind string) {
	dir := b.TempDir()
	sim, pw := build(b, dir, "./cmd/armsim"), build(b, dir, "./cmd/purgewatch")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := simulateWith(ctx, b, sim, "-subscriptions", fmt.Sprint(heavySubs), "-galleries", fmt.Sprint(heavyGalleries),
		"-images", fmt.Sprint(heavyImages), "-versions", "1", "-latency", "0s", "-heavy-bins", kind)
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("azure:\n  auth: none\n  endpoint: %s\naudit:\n  enabled: false\nserver:\n  listen: %s\nscan:\n  schedule: \"@every 5s\"\n", url, listen)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	started := time.Now()
	pwCmd := start(ctx, b, pw, cfg, []string{"GOMEMLIMIT=230MiB"})
	until(b, 5*time.Minute, "3 scans", func(m string) bool { return scans(m) >= 3 })
	took := time.Since(started)
	_, peak := memory(b, pwCmd.Process.Pid)
	b.ReportMetric(peak, "MB-rss-peak")
	b.ReportMetric(peak/(256*1.048576), "x-of-a-256MiB-pod")
	b.ReportMetric(float64(heavySubs*heavyGalleries*heavyImages*arm.DefaultMaxBody)/(1<<20), "MiB-bodies-per-scan")
	b.ReportMetric(took.Seconds()/3, "s-per-scan-incl-start")
}

// scans sums purgewatch_scans_total over its results.
func scans(metrics string) float64 {
	var n float64
	for _, line := range strings.Split(metrics, "\n") {
		if rest, ok := strings.CutPrefix(line, "purgewatch_scans_total{"); ok {
			if _, v, ok := strings.Cut(rest, "} "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				n += f
			}
		}
	}
	return n
}
