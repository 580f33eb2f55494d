package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// summary is what `purgewatch scan` says of a scan on stderr.
var summary = regexp.MustCompile(`(\d+) ARM requests \((\d+) throttled\); (\d+) failed scopes; took (\S+)`)

// scanned is what one `purgewatch scan` process did.
type scanned struct {
	requests, throttled int
	took                time.Duration
	peak                float64 // MB of RSS at most
	written             int64   // bytes on stdout
	stderr              string
}

// scanProcess runs `purgewatch scan -o output` with cfg as its own process, watching its peak
// RSS, and reads the summary it prints; it fails the benchmark unless the scan read every scope.
func scanProcess(b *testing.B, pw, cfg, output string) scanned {
	b.Helper()
	var stderr bytes.Buffer
	var stdout counter
	cmd := exec.Command(pw, "scan", "--config.file="+cfg, "-o", output)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan float64)
	go func() { done <- watchPeak(cmd.Process.Pid) }()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("purgewatch scan: %v\n%s", err, stderr.String())
	}
	out := scanned{peak: <-done, written: int64(stdout), stderr: stderr.String()}
	m := summary.FindStringSubmatch(out.stderr)
	if m == nil || m[3] != "0" {
		b.Fatalf("the scan did not read everything:\n%s", out.stderr)
	}
	out.requests, _ = strconv.Atoi(m[1])
	out.throttled, _ = strconv.Atoi(m[2])
	out.took, _ = time.ParseDuration(m[4])
	return out
}

// BenchmarkReadBudget runs `purgewatch scan` against the simulator, each its own process, on
// estates whose size is set by the read budget rather than by latency, and reports the scan's
// wall time against the floor the budget sets: each subscription's requests less its burst, at
// its refill rate, the subscriptions in parallel.
//
//	go test -run '^$' -bench ReadBudget -benchtime 1x ./internal/loadtest/
func BenchmarkReadBudget(b *testing.B) {
	dir := b.TempDir()
	sim, pw := build(b, dir, "./cmd/armsim"), build(b, dir, "./cmd/purgewatch")
	for _, c := range []struct {
		name             string
		subs, images     int
		burst, perSecond float64
	}{
		// Four subscriptions at ARM's own budget: fair turns keep all four budgets busy.
		{"4x1000/arm-budget", 4, 1000, 250, 25},
		// One whose budget others share: ARM refills 12 reads a second, not 25.
		{"1x1000/shared-12rps", 1, 1000, 250, 12},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			url := simulateWith(ctx, b, sim, "-subscriptions", fmt.Sprint(c.subs), "-galleries", "1",
				"-images", fmt.Sprint(c.images), "-versions", "1", "-latency", latency.String(),
				"-burst", fmt.Sprint(c.burst), "-per-second", fmt.Sprint(c.perSecond))
			cfg := config(b, dir, url, "")
			var r scanned
			for b.Loop() {
				r = scanProcess(b, pw, cfg, "json")
			}
			requests, throttled, took := r.requests, r.throttled, r.took
			// One request lists the subscriptions, outside any subscription's budget.
			perSub := float64(requests-throttled-1) / float64(c.subs)
			floor := time.Duration((perSub - c.burst) / c.perSecond * float64(time.Second))
			b.ReportMetric(float64(requests), "requests")
			b.ReportMetric(100*float64(throttled)/float64(requests), "%throttled")
			b.ReportMetric(took.Seconds(), "s/scan")
			b.ReportMetric(floor.Seconds(), "s-floor")
			b.ReportMetric(took.Seconds()/floor.Seconds(), "x-floor")
		})
	}
}

// BenchmarkTenant scans a simulated tenant of 1,000 subscriptions and 50,000 image definitions
// (one soft-deleted version each), the simulator and `purgewatch scan` each their own process,
// discovering the galleries by walking ARM and through Resource Graph. Each subscription's reads
// stay within its burst, so the floor is latency's: requests × 20 ms ÷ the 64 in flight.
//
//	go test -run '^$' -bench Tenant -benchtime 1x ./internal/loadtest/
func BenchmarkTenant(b *testing.B) {
	dir := b.TempDir()
	sim, pw := build(b, dir, "./cmd/armsim"), build(b, dir, "./cmd/purgewatch")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := simulateWith(ctx, b, sim, "-subscriptions", "1000", "-galleries", "1", "-images", "50", "-versions", "1",
		"-latency", latency.String())
	for _, discovery := range []string{"arm", "resourcegraph"} {
		b.Run("discovery="+discovery, func(b *testing.B) {
			cfg := filepath.Join(dir, discovery+".yaml")
			body := fmt.Sprintf("azure:\n  auth: none\n  endpoint: %s\n  concurrency: %d\n  discovery: %s\naudit:\n  enabled: false\n",
				url, concurrency, discovery)
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				b.Fatal(err)
			}
			var r scanned
			for b.Loop() {
				if r = scanProcess(b, pw, cfg, "json"); !strings.Contains(r.stderr, "50000 soft-deleted versions") {
					b.Fatalf("the scan missed versions:\n%s", r.stderr)
				}
			}
			requests, throttled, took, peak := r.requests, r.throttled, r.took, r.peak
			floor := time.Duration(float64(requests) * float64(latency) / float64(concurrency))
			b.ReportMetric(float64(requests), "requests")
			b.ReportMetric(float64(throttled), "throttled")
			b.ReportMetric(took.Seconds(), "s/scan")
			b.ReportMetric(took.Seconds()/floor.Seconds(), "x-floor")
			b.ReportMetric(peak, "MB-peak-rss")
		})
	}
}
