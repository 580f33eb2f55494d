package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

type hangingServer struct {
	*httptest.Server
	arrived chan struct{}
}

// newHangingServer answers nothing until the request is cancelled: ARM that stalls, a receiver
// that hangs. It reads the request's body first, as a server does, so that it notices the
// client leave; it closes when the test ends, after anything started later (the daemon).
func newHangingServer(t *testing.T) *hangingServer {
	h := &hangingServer{arrived: make(chan struct{})}
	var once sync.Once
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		once.Do(func() { close(h.arrived) })
		<-r.Context().Done()
	}))
	t.Cleanup(h.Close)
	return h
}

var (
	successfulScans = regexp.MustCompile(`purgewatch_scans_total\{result="success"\} (\d+)`)
	skippedScans    = regexp.MustCompile(`purgewatch_scans_total\{result="skipped"\} (\d+)`)
)

func TestAHungReceiverDoesNotHoldUpTheScans(t *testing.T) {
	hung := newHangingServer(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := "scan:\n  schedule: \"@every 1s\"\nnotify:\n  stateFile: " + filepath.Join(dir, "state.db") +
		"\n  channels:\n    - {name: hung, type: webhook, url: " + hung.URL + ", timeout: 1h}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--demo", "--config", cfg)
	d.waitReady(t)
	select {
	case <-hung.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the first message never reached the receiver")
	}
	// With the receiver holding its one connection for the length of the test, scans go on, every
	// tick, and the daemon stays ready.
	var text string
	scans := 0
	testtool.Eventually(t, 30*time.Second, "four scans behind a hung receiver", func() bool {
		_, text = d.get(t, "/metrics")
		if m := successfulScans.FindStringSubmatch(text); m != nil {
			scans, _ = strconv.Atoi(m[1])
		}
		return scans >= 4
	}, func() string { return text })
	// A send held for the channel's 1h timeout would stop the scans outright. A tick skipped now
	// and then is a scan over 1 s on a loaded machine (-race, CI), not the receiver: more skipped
	// than run would be.
	if s := skippedScans.FindStringSubmatch(text); s == nil {
		t.Errorf("no skipped count in /metrics")
	} else if skipped, _ := strconv.Atoi(s[1]); skipped > scans {
		t.Errorf("%d ticks skipped against %d scans behind the hung receiver", skipped, scans)
	}
	if code, _ := d.get(t, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d while a receiver hangs", code)
	}
}
