package loadtest

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
)

// counter counts what a process writes.
type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// BenchmarkScanOutput runs `purgewatch scan` once against the simulator's 100,000 versions with
// each output, as its own process, and reports its peak RSS (the kernel's ru_maxrss): the JSON
// document is streamed, so it must cost about what the table does.
//
//	go test -run '^$' -bench ScanOutput -benchtime 1x ./internal/loadtest/
func BenchmarkScanOutput(b *testing.B) {
	dir := b.TempDir()
	sim, pw := build(b, dir, "./cmd/armsim"), build(b, dir, "./cmd/purgewatch")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := config(b, dir, simulate(ctx, b, sim), "")
	for _, output := range []string{"table", "json"} {
		b.Run("o="+output, func(b *testing.B) {
			var peak float64
			var out counter
			for b.Loop() {
				out = 0
				cmd := exec.Command(pw, "scan", "--config", cfg, "-o", output)
				cmd.Stdout = &out
				if err := cmd.Run(); err != nil {
					b.Fatalf("purgewatch scan -o %s: %v", output, err)
				}
				peak = max(peak, float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)/1024)
			}
			if out == 0 {
				b.Fatal("nothing written")
			}
			b.ReportMetric(peak, "MB-peak-rss")
			b.ReportMetric(float64(out)/1e6, "MB-written")
		})
	}
}
