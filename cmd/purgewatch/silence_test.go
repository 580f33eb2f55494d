package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

// TestSilencesThroughTheStateFileAndTheRunningPurgewatch: a silence added while nothing runs is
// kept in the state file and mutes the demo's deletion of centos-7 from the first scan on; one
// added through the running purgewatch mutes another version; both show in `silence query`, on
// the page and in the metrics, and expiring one ends it.
func TestSilencesThroughTheStateFileAndTheRunningPurgewatch(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	heard := func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(bodies, "\n") }
	cfg := hookConfig(t, t.TempDir(), hook.URL, "")

	if code, _, stderr := runCmd(t, "silence", "add", "galery=legacyimages", "--comment", "x", "--config.file", cfg); code != exitFailed ||
		!strings.Contains(stderr, `matcher on "galery": not a label name`) {
		t.Errorf("a misspelt label: exit %d, %s", code, stderr)
	}
	code, out, stderr := runCmd(t, "silence", "add", "gallery=legacyimages", `image=~"centos-.*"`, "--duration", "2d",
		"--comment", "CentOS 7 is being retired", "--author", "bob", "--config.file", cfg)
	offline := strings.TrimSpace(out)
	if code != exitOK || len(offline) != 16 {
		t.Fatalf("silence add on the state file: exit %d, %q, %s", code, out, stderr)
	}

	d := startDaemon(t, "--demo", "--config.file", cfg, "--web.enable-lifecycle")
	d.waitReady(t)
	testtool.Eventually(t, 20*time.Second, "the first scan's deletions delivered", func() bool { return strings.Contains(heard(), "ubuntu-22.04-base") }, d.logs.String)
	if strings.Contains(heard(), "centos-7") {
		t.Errorf("the silenced version was announced:\n%s", heard())
	}

	ubuntu := "/subscriptions/" + armsim.DemoProduction + "/resourceGroups/rg-images-prod/providers/Microsoft.Compute/galleries/prodimages/images/ubuntu-22.04-base/versions/1.3.1"
	code, out, stderr = runCmd(t, "silence", "add", "id="+ubuntu, "--comment", "known", "--author", "alice", "--config.file", cfg, "--url", d.base)
	online := strings.TrimSpace(out)
	if code != exitOK || len(online) != 16 {
		t.Fatalf("silence add through the running purgewatch: exit %d, %q, %s", code, out, stderr)
	}
	_, out, _ = runCmd(t, "silence", "query", "--config.file", cfg, "--url", d.base)
	for _, want := range []string{offline, online, `gallery="legacyimages" image=~"centos-.*"`, "CentOS 7 is being retired", "bob", "alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("silence query lacks %q:\n%s", want, out)
		}
	}
	if _, text := d.get(t, "/metrics"); !strings.Contains(text, `purgewatch_silences{state="active"} 2`) {
		t.Errorf("/metrics: %s", grep(text, "purgewatch_silences"))
	}
	if _, page := d.get(t, "/"); !strings.Contains(page, "silenced by bob until") || !strings.Contains(page, `id="silence-list"`) {
		t.Error("the page does not mark the silenced version or list the silences")
	}
	if code, _, stderr = runCmd(t, "silence", "expire", offline, "--config.file", cfg, "--url", d.base); code != exitOK {
		t.Fatalf("silence expire: %d %s", code, stderr)
	}
	_, out, _ = runCmd(t, "silence", "query", "--config.file", cfg, "--url", d.base)
	_, gone, _ := runCmd(t, "silence", "query", "--expired", "--config.file", cfg, "--url", d.base)
	if strings.Contains(out, offline) || !strings.Contains(gone, offline) {
		t.Errorf("after expire, active:\n%s\nexpired:\n%s", out, gone)
	}
}
