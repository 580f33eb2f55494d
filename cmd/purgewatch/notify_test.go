package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	code, out, _ := runCmd(t, "notify", "test", "--config", cfg, "--channel", "ok")
	if code != exitOK || !strings.Contains(out, "ok (webhook) accepted the sample") || len(got) != 1 || !strings.HasPrefix(got[0], "sha256=") {
		t.Errorf("ok: exit %d, %q, requests %v", code, out, got)
	}
	code, _, stderr := runCmd(t, "notify", "test", "--config", cfg, "--channel", "denied")
	if code != exitFailed || !strings.Contains(stderr, "denied (slack) refused the sample: HTTP 403: invalid_token") {
		t.Errorf("denied: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCmd(t, "notify", "test", "--config", cfg, "--channel", "nope"); code != exitFailed || !strings.Contains(stderr, `no channel named "nope"`) {
		t.Errorf("unknown channel: exit %d, %q", code, stderr)
	}
}

func TestNotifyPreviewDemo(t *testing.T) {
	code, out, stderr := runCmd(t, "notify", "preview", "--demo")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(out, "==> stdout (log): 9 events") || strings.Count(out, `"channel":"stdout"`) != 9 {
		t.Errorf("preview:\n%s", out)
	}
}
