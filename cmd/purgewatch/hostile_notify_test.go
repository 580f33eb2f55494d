package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

// hostileHook is a webhook receiver whose answer a test sets, and which counts what it got.
type hostileHook struct {
	mu       sync.Mutex
	answer   func(w http.ResponseWriter) bool // true: answered (refused); false: accept
	accepted int
	requests int
	bodies   []string // of the requests accepted
}

func (h *hostileHook) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		if h.answer != nil && h.answer(w) {
			return
		}
		h.accepted++
		body, _ := io.ReadAll(r.Body)
		h.bodies = append(h.bodies, string(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// last is the body of the last request accepted.
func (h *hostileHook) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.bodies) == 0 {
		return ""
	}
	return h.bodies[len(h.bodies)-1]
}

func (h *hostileHook) counts() (requests, accepted int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests, h.accepted
}

func hookConfig(t *testing.T, dir, url, extra string) string {
	t.Helper()
	cfg := filepath.Join(dir, "config.yaml")
	body := "notify:\n  stateFile: " + filepath.Join(dir, "s.db") + "\n" + extra +
		"  channels:\n    - {name: hook, type: webhook, url: " + url + "}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// One 429 asking for ten years parks nothing: purgewatch tries again within notify.retry.max.
func TestRunAReceiverCannotParkAChannel(t *testing.T) {
	rx := &hostileHook{}
	first := true
	rx.answer = func(w http.ResponseWriter) bool {
		if !first {
			return false
		}
		first = false
		w.Header().Set("Retry-After", "315360000")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	dir := t.TempDir()
	cfg := hookConfig(t, dir, rx.serve(t).URL, "  retry: {initial: 1s, max: 2s}\n")
	d := startDaemon(t, "--demo", "--config.file", cfg)
	testtool.Eventually(t, 20*time.Second, "the message sent again within retry.max", func() bool {
		_, accepted := rx.counts()
		return accepted > 0
	}, d.logs.String)
}

// A flipped byte in an outbox record becomes a dead letter; the channel delivers what follows.
func TestRunAnUnreadableOutboxRecordStopsNothing(t *testing.T) {
	sub := "44444444-4444-4444-4444-444444444444"
	sim := armsim.New(armsim.Estate{Subscriptions: []armsim.Subscription{{ID: sub, Galleries: []armsim.Gallery{{
		Name: "prod", ResourceGroup: "rg", Location: "West Europe",
		Images:     []armsim.Image{{Name: "a", Versions: []string{"1.0.0"}}, {Name: "b", Versions: []string{"1.0.0"}}},
		SoftDelete: &armsim.SoftDeletePolicy{Enabled: true, RetentionDays: new(2)}}}}}}, armsim.Options{})
	arm := httptest.NewServer(sim)
	defer arm.Close()
	remove := func(image string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodDelete, arm.URL+"/subscriptions/"+sub+
			"/resourceGroups/rg/providers/Microsoft.Compute/galleries/prod/images/"+image+"/versions/1.0.0?api-version=2025-03-03", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE %s: %v %v", image, resp, err)
		}
		resp.Body.Close()
	}
	rx := &hostileHook{answer: func(w http.ResponseWriter) bool { w.WriteHeader(http.StatusServiceUnavailable); return true }}
	dir := t.TempDir()
	cfg := hookConfig(t, dir, rx.serve(t).URL, "")
	body, _ := os.ReadFile(cfg)
	body = append([]byte("azure:\n  auth: none\n  endpoint: "+arm.URL+"\nscan:\n  schedule: \"@every 1s\"\n"), body...)
	if err := os.WriteFile(cfg, body, 0o600); err != nil {
		t.Fatal(err)
	}

	remove("a")
	d := startDaemon(t, "--config.file", cfg)
	testtool.Eventually(t, 20*time.Second, "a first failed attempt", func() bool { n, _ := rx.counts(); return n > 0 }, d.logs.String)
	d.stop(t)
	damageFirstOutboxRecord(t, filepath.Join(dir, "s.db"))

	rx.mu.Lock()
	rx.answer = nil // the receiver is back
	rx.mu.Unlock()
	d = startDaemon(t, "--config.file", cfg)
	remove("b")
	var out string
	testtool.Eventually(t, 20*time.Second, "the next message delivered and the damaged one a dead letter", func() bool {
		_, out, _ = runCmd(t, "notify", "outbox", "--config.file", cfg, "--url", d.base)
		_, accepted := rx.counts()
		return accepted > 0 && strings.Contains(out, "dead") && !strings.Contains(out, "pending")
	}, func() string { return out }, d.logs.String)
	if !strings.Contains(out, "cannot be read") {
		t.Errorf("notify outbox does not say why the letter is dead:\n%s", out)
	}
	if _, text := d.get(t, "/metrics"); !strings.Contains(text, `purgewatch_notifications_dead_letters{channel="hook"} 1`) {
		t.Errorf("dead letters not counted:\n%s", grep(text, "purgewatch_notifications_dead"))
	}
}

// damageFirstOutboxRecord flips the first byte of the first outbox record, as a bad data page
// does (bbolt checksums only its metadata).
func damageFirstOutboxRecord(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("outbox"))
		k, v := b.Cursor().First()
		if k == nil {
			return errors.New("nothing waits in the outbox")
		}
		damaged := append([]byte(nil), v...)
		damaged[0] ^= 0xff
		return b.Put(k, damaged)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A receiver answering 307 to another host sees purgewatch stop there: the other host gets no
// body, signature or Referer, and `notify outbox` lists a dead letter naming where it pointed.
func TestRunARedirectOffTheHostIsADeadLetter(t *testing.T) {
	thief := &hostileHook{}
	away := thief.serve(t)
	rx := &hostileHook{answer: func(w http.ResponseWriter) bool {
		w.Header().Set("Location", away.URL+"/collect")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return true
	}}
	dir := t.TempDir()
	cfg := hookConfig(t, dir, rx.serve(t).URL+"/hooks/s3cretpath", "")
	d := startDaemon(t, "--demo", "--config.file", cfg)
	var out string
	testtool.Eventually(t, 20*time.Second, "a dead letter for the redirect", func() bool {
		_, out, _ = runCmd(t, "notify", "outbox", "--config.file", cfg, "--url", d.base)
		return strings.Contains(out, "dead")
	}, func() string { return out }, d.logs.String)
	if n, _ := thief.counts(); n != 0 {
		t.Errorf("%d requests followed the redirect to another host", n)
	}
	if !strings.Contains(out, "redirected to "+away.URL) {
		t.Errorf("notify outbox does not say where it pointed:\n%s", out)
	}
}

// A notify.stateFile naming the configuration file itself is refused by `config check` and by
// `run`, before anything is opened: run used to take the config for a corrupt state file and
// move it aside.
func TestAStateFileThatIsTheConfigIsRefused(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	body := "notify:\n  stateFile: " + cfg + "\n  channels: [{name: l, type: log}]\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"config", "check", "--config.file", cfg}, {"run", "--config.file", cfg, "--web.listen-address=127.0.0.1:0"}} {
		code, _, stderr := runCmd(t, args...)
		if code != exitFailed || !strings.Contains(stderr, "notify.stateFile: "+cfg+" is the configuration file") {
			t.Errorf("%s: exit %d, %s", args[0], code, stderr)
		}
	}
	if got, err := os.ReadFile(cfg); err != nil || string(got) != body {
		t.Errorf("the configuration file was changed or moved: %v", err)
	}
}
