package loadtest

import (
	"context"
	"testing"
	"time"
)

// watchPeak reads pid's VmHWM (its peak RSS, which only grows) from /proc every 20 ms until the
// process is gone, and returns the last value read, in MB: the peak, but for its last 20 ms.
// Polling a separate process: there is nothing to synchronise on.
func watchPeak(pid int) float64 {
	var peak float64
	for {
		st, err := status(pid)
		if err != nil {
			return peak
		}
		peak = max(peak, st["VmHWM"])
		time.Sleep(20 * time.Millisecond)
	}
}

// counter counts what a process writes.
type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// BenchmarkScanOutput runs `purgewatch scan` once against the simulator's 100,000 versions with
// each output, as its own process, and reports its peak RSS: the JSON document is streamed, so
// it must cost about what the table does. (Not ru_maxrss: Go starts a process with vfork, and
// Linux then counts the parent's resident memory, this benchmark's, into the child's peak.)
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
			var r scanned
			for b.Loop() {
				r = scanProcess(b, pw, cfg, output)
				peak = max(peak, r.peak)
			}
			if r.written == 0 {
				b.Fatal("nothing written")
			}
			b.ReportMetric(peak, "MB-peak-rss")
			b.ReportMetric(float64(r.written)/1e6, "MB-written")
		})
	}
}
