package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

func TestNotifyTestReportsTheChannelsAnswer(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/denied" {
			http.Error(w, "invalid_token", http.StatusForbidden)
			return
		}
		got = append(got, r.Header.Get("X-Purgewatch-Signature"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := "notify:\n  stateFile: " + filepath.Join(dir, "s.db") + "\n  channels:\n" +
		"    - {name: ok, type: webhook, url: " + srv.URL + "/ok, secret: k}\n" +
		"    - {name: denied, type: slack, webhookURL: " + srv.URL + "/denied}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCmd(t, "notify", "test", "--config.file", cfg, "--channel", "ok")
	if code != exitOK || !strings.Contains(out, "ok (webhook) accepted the sample") || len(got) != 1 || !strings.HasPrefix(got[0], "sha256=") {
		t.Errorf("ok: exit %d, %q, requests %v", code, out, got)
	}
	code, _, stderr := runCmd(t, "notify", "test", "--config.file", cfg, "--channel", "denied")
	if code != exitFailed || !strings.Contains(stderr, "denied (slack) refused the sample: HTTP 403: invalid_token") {
		t.Errorf("denied: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCmd(t, "notify", "test", "--config.file", cfg, "--channel", "nope"); code != exitFailed || !strings.Contains(stderr, `no channel named "nope"`) {
		t.Errorf("unknown channel: exit %d, %q", code, stderr)
	}
}

func TestNotifyPreviewDemo(t *testing.T) {
	code, out, stderr := runCmd(t, "notify", "preview", "--demo")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The three deletions that look wrong, then the routine digest (with, at any hour, the
	// overdue windows-2022-iis 2024.10.1 among what is purged before the next).
	if !strings.HasPrefix(out, "==> stdout (log): 3 events") || strings.Count(out, `"type":"deleted"`) != 3 ||
		!strings.Contains(out, "==> stdout (log): 1 event,") || !strings.Contains(out, `"type":"digest"`) ||
		!strings.Contains(out, "windows-2022-iis/versions/2024.10.1") {
		t.Errorf("preview:\n%s", out)
	}
	// The audit runs as in `run`: a version a VM still uses says so, as `run` would send it.
	if !strings.Contains(out, `"workloads":["VM web-prod-01"]`) {
		t.Errorf("preview lacks the workloads line:\n%s", out)
	}
}

func TestNotifyOutboxAndRetryBesideARunningPurgewatchAndWithout(t *testing.T) {
	refuse := true
	var mu sync.Mutex
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			http.Error(w, "no_such_hook", http.StatusNotFound)
		}
	}))
	t.Cleanup(rx.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := "notify:\n  stateFile: " + filepath.Join(dir, "s.db") + "\n  channels:\n    - {name: hook, type: webhook, url: " + rx.URL + "}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--demo", "--config.file", cfg)
	d.waitReady(t)
	var out string
	testtool.Eventually(t, 20*time.Second, "a dead letter listed through the running purgewatch", func() bool {
		var code int
		code, out, _ = runCmd(t, "notify", "outbox", "--config.file", cfg, "--url", d.base)
		return code == exitOK && strings.Contains(out, "dead")
	}, func() string { return out }, d.logs.String)
	if !strings.Contains(out, "hook") || !strings.Contains(out, "HTTP 404: no_such_hook") || !strings.Contains(out, "prodimages/") {
		t.Errorf("notify outbox:\n%s", out)
	}
	code, _, stderr := runCmd(t, "notify", "retry", "--channel", "hook", "--config.file", cfg, "--url", d.base)
	if code != exitFailed || !strings.Contains(stderr, "server.enableLifecycle") {
		t.Errorf("retry through a purgewatch without the lifecycle API: exit %d, %s", code, stderr)
	}
	d.stop(t)

	// The receiver is fixed, purgewatch is stopped: retry works on the file.
	mu.Lock()
	refuse = false
	mu.Unlock()
	code, out, stderr = runCmd(t, "notify", "retry", "--channel", "hook", "--config.file", cfg)
	// Two messages died: the demo's deletions that look wrong, and its routine digest.
	if code != exitOK || !strings.Contains(out, "queued 2 dead letter(s) of hook again") {
		t.Fatalf("retry on the file: exit %d, %s%s", code, out, stderr)
	}
	code, out, _ = runCmd(t, "notify", "outbox", "--config.file", cfg, "--channel", "hook")
	if code != exitOK || !strings.Contains(out, "pending") || strings.Contains(out, " dead ") {
		t.Errorf("after retry:\n%s", out)
	}
	if code, _, stderr := runCmd(t, "notify", "retry", "--channel", "nope", "--config.file", cfg); code != exitFailed || !strings.Contains(stderr, `no channel named "nope"`) {
		t.Errorf("retry of an unknown channel: exit %d, %s", code, stderr)
	}
}
