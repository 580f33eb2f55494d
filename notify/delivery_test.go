package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/scanner"
)

// guard bounds a wait that only a bug makes long: the test fails instead of hanging.
const guard = 20 * time.Second

func within(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(guard):
		t.Fatalf("%s did not happen within %s", what, guard)
	}
}

// hangingReceiver accepts a connection and never answers until the request is cancelled; each
// request is announced on arrived.
func hangingReceiver(t *testing.T) (*httptest.Server, <-chan struct{}, *atomic.Int32) {
	arrived := make(chan struct{}, 16)
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a client gone only once the body is read
		requests.Add(1)
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv, arrived, &requests
}

func TestAHungReceiverDelaysOnlyItsOwnChannel(t *testing.T) {
	stuck, arrived, _ := hangingReceiver(t)
	got := make(chan []byte, 16)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	defer ok.Close()
	stuckCh := webhookChannel("stuck", stuck.URL)
	stuckCh.Timeout = time.Hour // hangs for as long as the test lasts
	h := newHarness(t, stuckCh, webhookChannel("ok", ok.URL))

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { h.n.Run(ctx); close(stopped) }()

	a, b := ver("g", "1.0.0", t0.Add(time.Hour), 0, nil), ver("g", "2.0.0", t0.Add(2*time.Hour), 0, nil)
	if err := h.process(snapshot(t0, a), nil); err != nil {
		t.Fatal(err)
	}
	within(t, "the stuck channel's first send", chanOf(arrived))
	within(t, "the healthy channel's first message", chanOf(got))

	// The stuck receiver holds its send; the scan path must not wait for it.
	processed := make(chan struct{})
	go func() {
		defer close(processed)
		h.clock.Advance(15 * time.Minute)
		if err := h.n.Announce(ctx, snapshot(h.clock.Now(), a, b), nil, scanner.Coverage{Complete: true, Since: h.clock.Now()}); err != nil {
			t.Error(err)
		}
	}()
	within(t, "Announce beside a hung receiver", processed)
	within(t, "the healthy channel's second message", chanOf(got))

	cancel()
	within(t, "Run stopping with a send still hung", stopped)
	letters, err := ReadLetters(h.file, "stuck")
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 2 || letters[0].Attempts != 0 || letters[0].State != LetterPending {
		t.Errorf("the stuck channel's messages must wait, untouched by the cancelled send: %+v", letters)
	}
}

// chanOf turns a channel of anything into a done channel for within.
func chanOf[T any](c <-chan T) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		select {
		case <-c:
			close(done)
		case <-time.After(guard):
		}
	}()
	return done
}

func TestAPoisonMessageBecomesADeadLetterAndTheRestGoOn(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h.n = New(h.file, h.set, h.clock, nil, m)

	rx.fail(1, http.StatusBadRequest, "")
	a, b := ver("g", "1.0.0", t0.Add(time.Hour), 0, nil), ver("g", "2.0.0", t0.Add(2*time.Hour), 0, nil)
	h.scan(snapshot(t0, a), nil)
	h.clock.Advance(time.Minute) // no backoff stands between a dead letter and the next message
	h.scan(snapshot(h.clock.Now(), a, b), nil)
	if got := kinds(rx.webhookEvents(t)); !slices.Equal(got, []string{"2.0.0/expiring6h"}) {
		t.Fatalf("delivered %v, want only the message behind the refused one", got)
	}
	letters, err := h.n.Letters("hook")
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 || letters[0].State != LetterDead || letters[0].Status != 400 || letters[0].Answer != "try later" ||
		!slices.Equal(letters[0].Versions, []string{"g/img/1.0.0"}) {
		t.Fatalf("dead letters = %+v", letters)
	}
	if d := testutil.ToFloat64(m.dead.WithLabelValues("hook")); d != 1 {
		t.Errorf("purgewatch_notifications_dead_letters = %v", d)
	}
	if d := testutil.ToFloat64(m.total.WithLabelValues("hook", "webhook", "dead")); d != 1 {
		t.Errorf(`purgewatch_notifications_total{result="dead"} = %v`, d)
	}

	// The receiver is fixed; the operator re-queues.
	if n, err := h.n.Retry("hook"); err != nil || n != 1 {
		t.Fatalf("Retry = %d, %v", n, err)
	}
	h.n.deliverAll(t.Context())
	if got := kinds(rx.webhookEvents(t)); !slices.Equal(got, []string{"2.0.0/expiring6h", "1.0.0/expiring6h"}) {
		t.Errorf("after retry: %v", got)
	}
	if d := testutil.ToFloat64(m.dead.WithLabelValues("hook")); d != 0 {
		t.Errorf("dead letters after retry = %v", d)
	}
	if _, err := h.n.Retry("nope"); err == nil || !strings.Contains(err.Error(), `no channel named "nope"`) {
		t.Errorf("Retry of an unknown channel: %v", err)
	}
}

func TestWhatIsRetriedAndWhatIsRefusedForGood(t *testing.T) {
	for status, want := range map[int]bool{400: true, 401: true, 403: true, 404: true, 410: true, 413: true, 422: true,
		408: false, 429: false, 500: false, 502: false, 503: false, 504: false} {
		if got := permanent(&SendError{Status: status}); got != want {
			t.Errorf("HTTP %d: permanent = %v, want %v", status, got, want)
		}
	}
	if permanent(&SendError{Err: errors.New("dial tcp: connection refused")}) || permanent(errors.New("write: broken pipe")) {
		t.Error("transport errors are retried")
	}
	if !permanent(unrenderable(errors.New("template: no such field"))) {
		t.Error("a message the template cannot render is refused for good")
	}
}

func TestATimedOutSendWaitsItsBackoff(t *testing.T) {
	srv, _, requests := hangingReceiver(t)
	ch := webhookChannel("slow", srv.URL)
	ch.Timeout = 50 * time.Millisecond
	h := newHarness(t, ch)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h.set.Retry = config.Retry{Initial: time.Millisecond, Max: time.Millisecond} // below the floor
	h.n = New(h.file, h.set, h.clock, nil, m)

	next := h.scan(snapshot(t0, ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)), nil)
	if want := t0.Add(time.Second); !next.Equal(want) {
		t.Fatalf("next attempt %v, want %v: a second at least, whatever notify.retry.initial says", next, want)
	}
	for range 3 { // scans come and go; the message waits its backoff
		h.n.deliverAll(t.Context())
	}
	if n := requests.Load(); n != 1 {
		t.Fatalf("%d attempts before the backoff ran out, want 1", n)
	}
	h.clock.Advance(time.Second)
	h.n.deliverAll(t.Context())
	if n := requests.Load(); n != 2 {
		t.Fatalf("%d attempts after the backoff, want 2", n)
	}
	if r := testutil.ToFloat64(m.total.WithLabelValues("slow", "webhook", "resent")); r != 1 {
		t.Errorf(`purgewatch_notifications_total{result="resent"} = %v, want 1`, r)
	}
	letters, _ := h.n.Letters("slow")
	if len(letters) != 1 || letters[0].Attempts != 2 || !strings.Contains(letters[0].LastError, "Client.Timeout") {
		t.Errorf("outbox = %+v", letters)
	}
}

// A notifier on a state file that was corrupt (moved aside by state.Open) says so in its metric,
// and the fresh file works.
func TestANotifierOnARecoveredStateFileSaysSoAndWorks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 4096)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := state.Open(path)
	if err != nil {
		t.Fatalf("a corrupt state file must be recovered from, not refused: %v", err)
	}
	defer s.Close()
	m := NewMetrics(prometheus.NewRegistry())
	rx := newReceiver(t)
	ch, err := NewChannel(webhookChannel("hook", rx.srv.URL), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	n := New(s, Settings{Channels: []Channel{ch}, Thresholds: thresholds, Retry: config.Retry{Initial: time.Second, Max: time.Second}}, nil, nil, m)
	if v := testutil.ToFloat64(m.recovered); v != 1 {
		t.Errorf("purgewatch_notify_state_recovered = %v", v)
	}
	now := time.Now()
	if err := n.Announce(t.Context(), snapshot(now, ver("g", "1.0.0", now.Add(time.Hour), 0, nil)), nil, scanner.Coverage{Complete: true, Since: now}); err != nil {
		t.Fatal(err)
	}
	n.deliverAll(t.Context())
	if len(rx.received()) != 1 {
		t.Error("the fresh state file does not work")
	}
}
