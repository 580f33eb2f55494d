package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/notify"
)

// hook is a webhook receiver that counts the events it is sent, by type.
type hook struct {
	mu     sync.Mutex
	counts map[notify.Kind]int
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p notify.WebhookPayload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range p.Events {
		h.counts[e.Type]++
	}
}

func (h *hook) count(k notify.Kind) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[k]
}

// BenchmarkChurn moves 10,000 of the 100,000 versions through the bins in each of three rounds:
// 10,000 leave (purgewatch asks ARM once about each, finds it gone, and says so) and 10,000
// arrive (announced). Every version is announced on sight (one threshold of 168h), through a
// webhook to a receiver in this process. Per round it reports how many scan intervals passed
// between the churn and the last of its events, and how many scans ended in between (1: the
// first scan to start after the churn resolved it all; 2: a scan already under way at the churn
// ended first), the ticks skipped, the state file's size and the daemon's RSS.
//
//	go test -run '^$' -bench Churn -benchtime 1x ./internal/loadtest/
func BenchmarkChurn(b *testing.B) {
	const perRound, rounds, interval = 10000, 3, 30 * time.Second
	dir := b.TempDir()
	sim, pw := build(b, dir, "./cmd/armsim"), build(b, dir, "./cmd/purgewatch")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rx := &hook{counts: map[notify.Kind]int{}}
	srv := httptest.NewServer(rx)
	defer srv.Close()
	simURL := simulate(ctx, b, sim)
	cfg := config(b, dir, simURL, fmt.Sprintf("scan:\n  schedule: \"@every %v\"\nnotify:\n  stateFile: %s\n  thresholds: [168h]\n  routine: warn\n  channels:\n    - {name: hook, type: webhook, url: %q, secret: s3cret}\n",
		interval, filepath.Join(dir, "state.db"), srv.URL))
	// As the chart runs it: a 256 MiB limit, of which purgewatch gives Go 90 % (GOMEMLIMIT stands in
	// for the cgroup here).
	d := start(ctx, b, pw, cfg, []string{"GOMEMLIMIT=230MiB"})
	total := subs * galleries * images * versions
	// A version is announced deleted (the synthetic estate's are not routine: no newer live one),
	// or expiring when triage finds it routine.
	announced := func() int { return rx.count(notify.KindDeleted) + rx.count(notify.KindExpiring) }
	until(b, 5*time.Minute, "every version announced", func(string) bool { return announced() >= total })
	var worst float64
	for round := 1; round <= rounds; round++ {
		resp, err := http.Post(simURL+"/_armsim/churn?n="+fmt.Sprint(perRound), "", nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("churn: %v %v", resp, err)
		}
		resp.Body.Close()
		churned := time.Now()
		before := sample(until(b, interval, "metrics", func(string) bool { return true }), `purgewatch_scans_total{result="success"}`)
		m := until(b, 10*interval, fmt.Sprintf("round %d resolved and announced", round), func(string) bool {
			return rx.count(notify.KindResolved) >= round*perRound && announced() >= total+round*perRound
		})
		took := time.Since(churned).Seconds() / interval.Seconds()
		worst = max(worst, took)
		rss, _ := memory(b, d.Process.Pid)
		st, err := status(d.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		// RssAnon: the resident memory that is not the state file's mapping (RssFile), which the
		// kernel can drop and read again.
		b.ReportMetric(st["RssAnon"], fmt.Sprintf("MB-rss-anon-round-%d", round))
		b.ReportMetric(took, fmt.Sprintf("intervals-to-resolve-round-%d", round))
		b.ReportMetric(sample(m, `purgewatch_scans_total{result="success"}`)-before, fmt.Sprintf("scans-to-resolve-round-%d", round))
		b.ReportMetric(sample(m, "purgewatch_notify_state_bytes")/1e6, fmt.Sprintf("MB-state-round-%d", round))
		b.ReportMetric(rss, fmt.Sprintf("MB-rss-round-%d", round))
		if round == rounds {
			b.ReportMetric(sample(m, `purgewatch_scans_total{result="skipped"}`), "ticks-skipped")
		}
	}
	// Over one whole interval after the rounds: what the daemon holds between scans (the median)
	// and what a scan adds (the largest sample); VmHWM is the peak since it started, the first
	// scan's 100,000 events included.
	median, most := sampled(b, d.Process.Pid, interval)
	_, peak := memory(b, d.Process.Pid)
	b.ReportMetric(median, "MB-rss-median-interval")
	b.ReportMetric(most, "MB-rss-largest-interval")
	b.ReportMetric(peak, "MB-rss-peak")
	if got := rx.count(notify.KindResolved); got != rounds*perRound {
		b.Errorf("%d resolved events, want %d: each version that left, once", got, rounds*perRound)
	}
}
