package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/testtool"
	"github.com/purgewatch/purgewatch/notify"
)

// echoingReceiver answers status with a body that repeats everything it was sent in the clear: the
// URL (a webhook's token), the Authorization header (Alertmanager's user:password). A receiver
// that echoes is how secrets most often come back into logs.
func echoingReceiver(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		user, pass, _ := r.BasicAuth()
		// And each part alone, as real services quote them: the token (the last segment), each
		// query value (a Teams sig), the Authorization header as sent (base64).
		parts := []string{path.Base(r.URL.Path), r.Header.Get("Authorization")}
		for _, v := range r.URL.Query() {
			parts = append(parts, v...)
		}
		http.Error(w, "refused "+r.URL.String()+" for "+user+":"+pass+"; "+strings.Join(parts, " "), status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// silentSMTP accepts connections and never greets: the e-mail channel times out.
func silentSMTP(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return ln.Addr().String()
}

// refusedAddress is a loopback port nothing listens on: port 1 (tcpmux), which no service
// here offers. A port picked free and closed again was taken back, at times, by the next test
// server this very test started, and the "refused" channel then reached it.
func refusedAddress(t *testing.T) string {
	t.Helper()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second); err == nil {
		c.Close()
		t.Fatal("something listens on 127.0.0.1:1; the connection-refused path cannot be tested here")
	}
	return "127.0.0.1:1"
}

func TestSecretsNeverLeaveOnAnyFailurePath(t *testing.T) {
	smtpHost, smtpPort, _ := net.SplitHostPort(silentSMTP(t))
	secrets := map[string]string{
		// connection refused
		"PW_SLACK_URL": "http://" + refusedAddress(t) + "/services/T0SLACK/B0SLACK/slackTokenSecret1234",
		// DNS failure
		"PW_TEAMS_URL": "https://purgewatch-teams.invalid/workflows/teamsTokenSecret5678",
		// 4xx, from a receiver that echoes the URL
		"PW_WEBHOOK_URL":    echoingReceiver(t, http.StatusBadRequest).URL + "/hooks/webhookTokenSecret9012",
		"PW_WEBHOOK_SECRET": "hmacKeySecret3456",
		// 5xx, from an Alertmanager that echoes the credentials
		"PW_AM_URL": strings.Replace(echoingReceiver(t, http.StatusBadGateway).URL, "http://", "http://amuser:amPasswordSecret7890@", 1),
		// timeout
		"PW_SMTP_PASSWORD": "smtpPasswordSecret2468",
		// 4xx from a Teams Workflows endpoint that echoes its sig and workflow id
		"PW_TEAMS_ECHO_URL": echoingReceiver(t, http.StatusUnauthorized).URL +
			"/workflows/teamsWorkflow0123456789/triggers/manual/paths/invoke?api-version=2016-06-01&sig=teamsSigSecret4321",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state.db")
	cfg := filepath.Join(dir, "config.yaml")
	body := `notify:
  stateFile: ` + state + `
  retry: {initial: 1s, max: 1s}
  channels:
    - {name: slack, type: slack, webhookURL: "${PW_SLACK_URL}", timeout: 2s}
    - {name: teams, type: teams, webhookURL: "${PW_TEAMS_URL}", timeout: 2s}
    - {name: hook, type: webhook, url: "${PW_WEBHOOK_URL}", secret: "${PW_WEBHOOK_SECRET}", timeout: 2s}
    - {name: am, type: alertmanager, urls: ["${PW_AM_URL}"], timeout: 2s}
    - name: mail
      type: email
      from: purgewatch@example.com
      to: [ops@example.com]
      timeout: 500ms
      smtp: {host: ` + smtpHost + `, port: ` + smtpPort + `, tls: none, username: purgewatch, password: "${PW_SMTP_PASSWORD}"}
    - {name: teamsecho, type: teams, webhookURL: "${PW_TEAMS_ECHO_URL}", timeout: 2s}
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	var written []string // everything purgewatch wrote anywhere
	// Each channel fails the way it was set up to, so each failure path is taken.
	for ch, path := range map[string]string{"slack": "connection refused", "teams": "lookup purgewatch-teams.invalid",
		"hook": "HTTP 400", "am": "HTTP 502", "mail": "timeout", "teamsecho": "HTTP 401"} {
		code, out, stderr := runCmd(t, "notify", "test", "--config", cfg, "--channel", ch)
		if code != exitFailed || !strings.Contains(stderr, ch+" (") || !strings.Contains(stderr, path) {
			t.Errorf("notify test --channel %s: exit %d, want %q in %q", ch, code, path, stderr)
		}
		written = append(written, out, stderr)
	}

	d := startDaemon(t, "--demo", "--config", cfg)
	d.waitReady(t)
	// Every channel has failed at least once: each failure path has been taken.
	tried := map[string]bool{}
	testtool.Eventually(t, 30*time.Second, "a failed attempt on every channel", func() bool {
		_, text := d.get(t, "/api/v1/outbox")
		var letters []notify.Letter
		_ = json.Unmarshal([]byte(text), &letters)
		clear(tried)
		for _, l := range letters {
			if l.Attempts > 0 {
				tried[l.Channel] = true
			}
		}
		return len(tried) == 6
	}, func() string { return fmt.Sprint("tried: ", tried) }, d.logs.String)
	for _, path := range []string{"/", "/api/v1/versions", "/api/v1/outbox", "/metrics"} {
		_, text := d.get(t, path)
		written = append(written, text)
	}
	if _, page := d.get(t, "/"); !strings.Contains(page, `id="dead-letters"`) || !strings.Contains(page, "HTTP 400") {
		t.Error("the status page does not show the webhook's dead letter")
	}
	d.stop(t)
	written = append(written, d.logs.String(), d.stdout.String())
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	written = append(written, string(data))
	all := strings.Join(written, "\n")

	for name, value := range secrets {
		for _, secret := range secretParts(value) {
			if strings.Contains(all, secret) {
				i := strings.Index(all, secret)
				t.Errorf("%s leaked (%q) in: …%s…", name, secret, all[max(0, i-200):min(len(all), i+len(secret)+50)])
			}
		}
	}
}

// secretParts are what must never appear of a secret: the token part of a URL, each part a
// receiver echoes alone, their base64 forms, or the whole.
func secretParts(v string) []string {
	b64 := func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }
	switch {
	case strings.Contains(v, "sig="):
		return []string{"teamsSigSecret4321", "teamsWorkflow0123456789"}
	case strings.Contains(v, "@"):
		return []string{"amPasswordSecret7890", b64("amuser:amPasswordSecret7890")}
	case strings.HasPrefix(v, "smtp"):
		return []string{v, b64("\x00purgewatch\x00" + v), b64(v)}
	}
	for _, marker := range []string{"/services/", "/workflows/", "/hooks/"} {
		if i := strings.Index(v, marker); i >= 0 {
			return []string{v[i+len(marker):], path.Base(v)} // and the token alone
		}
	}
	return []string{v}
}
