// Package loadtest measures purgewatch the way it runs: the simulator as one process, the
// purgewatch binary as another, memory read from /proc, scrapes sent with Prometheus's own
// headers. It holds only a benchmark (figures in docs/benchmarks.md):
//
//	go test -run '^$' -bench . -benchtime 1x ./internal/loadtest/
package loadtest

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

// build compiles a command of this module into dir.
func build(b *testing.B, dir, pkg string) string {
	b.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = "../.."
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// status reads the kB fields of /proc/PID/status (VmRSS, VmHWM, RssAnon, ...) in MB; an error
// when the process is gone.
func status(pid int) (map[string]float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[2] == "kB" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			out[strings.TrimSuffix(f[0], ":")] = kb / 1024
		}
		if strings.HasPrefix(line, "State:\tZ") { // exited, not yet reaped: nothing to read
			return nil, fmt.Errorf("process %d has exited", pid)
		}
	}
	return out, nil
}

// memory reads VmRSS and VmHWM (the peak) of pid, in MB.
func memory(b *testing.B, pid int) (rss, peak float64) {
	b.Helper()
	st, err := status(pid)
	if err != nil {
		b.Fatal(err)
	}
	return st["VmRSS"], st["VmHWM"]
}

// sampled reads VmRSS of pid every 100 ms for d and returns the median and the largest sample,
// in MB: over a whole scan interval, the median is what the daemon holds while it idles between
// scans (as it does nearly all the time at any real schedule) and the largest what a scan adds.
func sampled(b *testing.B, pid int, d time.Duration) (median, most float64) {
	b.Helper()
	var rss []float64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		st, err := status(pid)
		if err != nil {
			b.Fatal(err)
		}
		rss = append(rss, st["VmRSS"])
	}
	slices.Sort(rss)
	return rss[len(rss)/2], rss[len(rss)-1]
}

// timed GETs url n times with header and returns the median time and the last body's size on
// the wire and decoded.
func timed(b *testing.B, url string, n int, header map[string]string) (median time.Duration, wire, body int) {
	b.Helper()
	var took []time.Duration
	for range n {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		start := time.Now()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		took = append(took, time.Since(start))
		resp.Body.Close()
		wire, body = len(raw), len(raw)
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(strings.NewReader(string(raw)))
			if err != nil {
				b.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			body = len(plain)
		}
	}
	slices.Sort(took)
	return took[len(took)/2], wire, body
}

// BenchmarkDaemon runs the daemon as shipped (metrics.relative off), with seconds_until_purge
// on (the costlier scrape), and as pods with a 256 MiB (the chart's default) and a 128 MiB memory
// limit run it: purgewatch sets the Go memory limit to 90 % of the container's
// (cmd/purgewatch/memlimit.go), which GOMEMLIMIT stands in for here, where the benchmark runs in
// no container.
func BenchmarkDaemon(b *testing.B) {
	for _, c := range []struct {
		name     string
		relative bool
		env      []string
	}{
		{"defaults", false, nil},
		{"relative", true, nil},
		{"pod-256MiB", false, []string{"GOMEMLIMIT=230MiB"}}, // the chart's default limit
		{"pod-128MiB", false, []string{"GOMEMLIMIT=115MiB"}},
	} {
		b.Run(c.name, func(b *testing.B) { daemon(b, c.relative, c.env) })
	}
}

// The estate of these benchmarks: 100 subscriptions × 10 galleries × 10 image definitions × 10
// soft-deleted versions, 20 ms on every request.
const subs, galleries, images, versions, latency, concurrency = 100, 10, 10, 10, 20 * time.Millisecond, 64

// interval is BenchmarkDaemon's scan schedule: thirty times the default's rate, so that scans are
// always near, and about three times a scan's length, so that there is an idle part to measure.
const interval = 20 * time.Second

// listen is the daemon's address: fixed, for the process prints none.
const listen = "127.0.0.1:19772"

// simulate starts cmd/armsim on the benchmarks' estate and returns its URL.
func simulate(ctx context.Context, b *testing.B, sim string) string {
	b.Helper()
	return simulateWith(ctx, b, sim, "-subscriptions", fmt.Sprint(subs), "-galleries", fmt.Sprint(galleries),
		"-images", fmt.Sprint(images), "-versions", fmt.Sprint(versions), "-latency", latency.String())
}

// simulateWith starts cmd/armsim with args and returns its URL.
func simulateWith(ctx context.Context, b *testing.B, sim string, args ...string) string {
	b.Helper()
	cmd := exec.CommandContext(ctx, sim, args...)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(url)
}

// config writes the daemon's configuration: the simulator at simURL, and extra (YAML) after.
func config(b *testing.B, dir, simURL, extra string) string {
	b.Helper()
	cfg := filepath.Join(dir, "config.yaml")
	body := fmt.Sprintf("azure:\n  auth: none\n  endpoint: %s\n  concurrency: %d\naudit:\n  enabled: false\nserver:\n  listen: %s\n%s",
		simURL, concurrency, listen, extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	return cfg
}

// start runs `purgewatch run` with cfg as its own process.
func start(ctx context.Context, b *testing.B, pw, cfg string, env []string) *exec.Cmd {
	b.Helper()
	cmd := exec.CommandContext(ctx, pw, "run", "--config.file="+cfg)
	cmd.Stderr = io.Discard
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	return cmd
}

// until polls the daemon's /metrics until done accepts it, or fails after limit, and returns
// the exposition done accepted.
func until(b *testing.B, limit time.Duration, what string, done func(metrics string) bool) string {
	b.Helper()
	var text string
	testtool.Eventually(b, limit, what, func() bool {
		resp, err := http.Get("http://" + listen + "/metrics")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(body)
		return done(text)
	})
	return text
}

// sample reads one sample's value from an exposition; -1 when absent.
func sample(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

func daemon(b *testing.B, relative bool, env []string) {
	dir := b.TempDir()
	sim, pw := build(b, dir, "./cmd/armsim"), build(b, dir, "./cmd/purgewatch")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := config(b, dir, simulate(ctx, b, sim), fmt.Sprintf("scan:\n  schedule: \"@every %v\"\nmetrics:\n  relative: %v\n", interval, relative))
	pwCmd := start(ctx, b, pw, cfg, env)
	base := "http://" + listen
	until(b, 5*time.Minute, "5 scans", func(m string) bool { return sample(m, `purgewatch_scans_total{result="success"}`) >= 5 })
	rss, peak := memory(b, pwCmd.Process.Pid)
	b.ReportMetric(rss, "MB-rss-after-5-scans")
	idle, scanning := sampled(b, pwCmd.Process.Pid, interval)
	b.ReportMetric(idle, "MB-rss-median-over-an-interval")
	b.ReportMetric(scanning, "MB-rss-most-over-an-interval")

	scrape, scrapeWire, scrapeBody := timed(b, base+"/metrics", 21, map[string]string{"Accept": prometheusAccept, "Accept-Encoding": "gzip"})
	page, pageWire, _ := timed(b, base+"/", 11, map[string]string{"Accept-Encoding": "gzip"})
	api, apiWire, _ := timed(b, base+"/api/v1/versions", 11, map[string]string{"Accept-Encoding": "gzip"})
	walk := time.Now()
	pages := 0
	for url := base + "/api/v1/versions?limit=10000"; url != ""; pages++ {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		url = ""
		if m := regexp.MustCompile(`"continue": "([^"]+)"`).FindSubmatch(data); m != nil {
			url = base + "/api/v1/versions?limit=10000&continue=" + string(m[1])
		}
	}
	walked := time.Since(walk)
	rssAfter, peakAfter := memory(b, pwCmd.Process.Pid)
	b.ReportMetric(float64(scrape.Microseconds())/1000, "ms-scrape-median")
	b.ReportMetric(float64(scrapeWire)/1e6, "MB-scrape-wire")
	b.ReportMetric(float64(scrapeBody)/1e6, "MB-scrape-body")
	b.ReportMetric(float64(page.Microseconds())/1000, "ms-page-median")
	b.ReportMetric(float64(pageWire)/1e3, "KB-page-wire")
	b.ReportMetric(float64(api.Microseconds())/1000, "ms-api-page-median")
	b.ReportMetric(float64(apiWire)/1e3, "KB-api-page-wire")
	b.ReportMetric(walked.Seconds(), "s-api-walk-all")
	b.ReportMetric(float64(pages), "api-pages")
	b.ReportMetric(rssAfter, "MB-rss-after-reads")
	b.ReportMetric(max(peak, peakAfter), "MB-rss-peak")
}
