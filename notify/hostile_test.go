package notify

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/state"
)

// A receiver answering 429 with a Retry-After of ten years parks nothing: the wait is cut to
// notify.retry.max, and the age of what waits is a gauge the alert reads, not a failure count.
func TestAReceiverCannotParkAChannel(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	m := NewMetrics(prometheus.NewRegistry())
	h.n = New(h.file, h.set, h.clock, nil, m)
	rx.fail(1, http.StatusTooManyRequests, "315360000")
	next := h.scan(snapshot(t0, ver("g", "1.0.0", t0.Add(48*time.Hour), 0, nil)), nil)
	if want := t0.Add(h.set.Retry.Max); !next.Equal(want) {
		t.Fatalf("next attempt %v, want %v (notify.retry.max)", next, want)
	}
	if at := testutil.ToFloat64(m.oldest.WithLabelValues("hook")); at != float64(t0.Unix()) {
		t.Errorf("oldest pending = %v, want when it was queued, %d", at, t0.Unix())
	}
	h.clock.Advance(h.set.Retry.Max)
	h.n.deliverAll(t.Context())
	if n := len(rx.received()); n != 1 {
		t.Fatalf("%d messages after retry.max, want 1", n)
	}
	if n := testutil.CollectAndCount(m.oldest); n != 0 {
		t.Errorf("%d oldest-pending samples with nothing waiting, want none", n)
	}
}

// corrupt overwrites the value of the first outbox record of the file at path, as a flipped
// byte in a data page does (bbolt checksums only its metadata).
func corrupt(t *testing.T, path string, value []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("outbox"))
		k, _ := b.Cursor().First()
		if k == nil {
			return errors.New("no outbox record to corrupt")
		}
		return b.Put(k, value)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An outbox record that cannot be read (a flipped byte, or events of another shape) becomes a
// dead letter with its bytes, counted; the channel goes on with the next message.
func TestAnUnreadableOutboxRecordStopsNothing(t *testing.T) {
	for name, value := range map[string][]byte{
		"a flipped byte":            []byte(`{"events":[{"type":"expiring"}],"attempts":0,"nextAttempt":"2026-11-2` + "\x00"),
		"events of another shape":   []byte(`{"events":[17],"attempts":0,"nextAttempt":"2026-11-28T12:00:00Z"}`),
		"a record of another shape": []byte(`[1,2,3]`),
	} {
		t.Run(name, func(t *testing.T) {
			rx := newReceiver(t)
			h := newHarness(t, webhookChannel("hook", rx.srv.URL))
			a, b := ver("g", "1.0.0", t0.Add(48*time.Hour), 0, nil), ver("g", "2.0.0", t0.Add(48*time.Hour), 0, nil)
			if err := h.process(snapshot(t0, a), nil); err != nil {
				t.Fatal(err)
			}
			if err := h.file.Close(); err != nil {
				t.Fatal(err)
			}
			corrupt(t, h.path, value)
			h.open()
			m := NewMetrics(prometheus.NewRegistry())
			h.n = New(h.file, h.set, h.clock, nil, m)
			h.n.updateGauges()
			if p := testutil.ToFloat64(m.pending.WithLabelValues("hook")); p != 1 {
				t.Errorf("pending = %v with an unreadable record waiting, want 1", p)
			}
			h.clock.Advance(time.Minute)
			h.scan(snapshot(h.clock.Now(), a, b), nil)
			if got := kinds(rx.webhookEvents(t)); !slices.Equal(got, []string{"2.0.0/expiring72h"}) {
				t.Fatalf("delivered %v, want the message behind the unreadable one", got)
			}
			letters, err := h.n.Letters("hook")
			if err != nil {
				t.Fatal(err)
			}
			if len(letters) != 1 || letters[0].State != LetterDead || !strings.Contains(letters[0].LastError, "cannot be read") {
				t.Fatalf("letters = %+v, want one dead letter saying it could not be read", letters)
			}
			if d := testutil.ToFloat64(m.dead.WithLabelValues("hook")); d != 1 {
				t.Errorf("purgewatch_notifications_dead_letters = %v, want 1", d)
			}
			if d := testutil.ToFloat64(m.total.WithLabelValues("hook", "webhook", "dead")); d != 1 {
				t.Errorf(`purgewatch_notifications_total{result="dead"} = %v, want 1`, d)
			}
			// notify retry cannot send it again; it stays for a person to read.
			if n, err := h.n.Retry("hook"); err != nil || n != 0 {
				t.Errorf("Retry = %d, %v: an unreadable letter was requeued", n, err)
			}
		})
	}
}

// unrecordable is a state file whose first deliveries cannot be recorded (a full disk).
type unrecordable struct {
	*state.File
	fails int
}

func (u *unrecordable) Delivered(channel string, p *state.Pending, events []state.Event, at time.Time) error {
	if u.fails > 0 {
		u.fails--
		return errors.New("write state.db: no space left on device")
	}
	return u.File.Delivered(channel, p, events, at)
}

// A message sent but not recorded goes again no sooner than a failure would: once per backoff
// step, each repeat counted as resent, not once a second.
func TestADeliveryThatCannotBeRecordedBacksOff(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	m := NewMetrics(prometheus.NewRegistry())
	h.n = New(&unrecordable{File: h.file, fails: 2}, h.set, h.clock, nil, m)
	next := h.scan(snapshot(t0, ver("g", "1.0.0", t0.Add(48*time.Hour), 0, nil)), nil)
	if want := t0.Add(h.set.Retry.Initial); !next.Equal(want) {
		t.Fatalf("next attempt %v, want the first backoff step %v", next, want)
	}
	for range 5 {
		h.n.deliverAll(t.Context())
	}
	if n := len(rx.received()); n != 1 {
		t.Fatalf("%d sends before the backoff ran out, want 1", n)
	}
	h.clock.Advance(h.set.Retry.Initial)
	if next := h.n.deliverAll(t.Context()); !next.Equal(h.clock.Now().Add(2 * h.set.Retry.Initial)) {
		t.Errorf("second unrecorded send: next %v, want the doubled step", next)
	}
	h.clock.Advance(2 * h.set.Retry.Initial)
	h.n.deliverAll(t.Context())
	h.n.deliverAll(t.Context())
	if n := len(rx.received()); n != 3 {
		t.Errorf("%d sends, want 3: two repeats while the file was full, then recorded", n)
	}
	if r := testutil.ToFloat64(m.total.WithLabelValues("hook", "webhook", "resent")); r != 2 {
		t.Errorf(`purgewatch_notifications_total{result="resent"} = %v, want 2`, r)
	}
}

// A receiver that redirects elsewhere gets nothing followed: no body, no signature, no Referer
// naming the secret URL reaches the other host, and the message is a dead letter saying where it
// pointed. A redirect on the configured host is followed, without a Referer.
func TestRedirectsAreFollowedOnlyOnTheConfiguredHost(t *testing.T) {
	var mu sync.Mutex
	var elsewhere []*http.Request
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		elsewhere = append(elsewhere, r)
	}))
	t.Cleanup(other.Close)
	var referers []string
	var moved [][]byte
	rx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/hooks/T0KEN-away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case "/hooks/T0KEN-old":
			http.Redirect(w, r, "/hooks/T0KEN-new", http.StatusPermanentRedirect)
		case "/hooks/T0KEN-new":
			body, _ := io.ReadAll(r.Body)
			referers, moved = append(referers, r.Header.Get("Referer")), append(moved, body)
		}
	}))
	t.Cleanup(rx.Close)
	h := newHarness(t, webhookChannel("away", rx.URL+"/hooks/T0KEN-away"), webhookChannel("moved", rx.URL+"/hooks/T0KEN-old"))
	h.scan(snapshot(t0, ver("g", "1.0.0", t0.Add(48*time.Hour), 0, nil)), nil)

	mu.Lock()
	defer mu.Unlock()
	if len(elsewhere) != 0 {
		t.Errorf("%d requests reached the host the receiver redirected to (Referer %q)", len(elsewhere), elsewhere[0].Header.Get("Referer"))
	}
	letters, err := h.n.Letters("away")
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 || letters[0].State != LetterDead || letters[0].Status != http.StatusTemporaryRedirect ||
		!strings.Contains(letters[0].Answer, "redirected to "+other.URL) || strings.Contains(letters[0].Answer, "steal") {
		t.Errorf("letters of away = %+v, want one dead letter naming the other host only", letters)
	}
	if len(moved) != 1 || len(moved[0]) == 0 || referers[0] != "" {
		t.Errorf("the same-host redirect: %d deliveries, Referer %q", len(moved), referers)
	}
}

// A backtick in a name cannot end Slack's code span: what follows it (*bold*, a bare link) stays
// inside, as text, and Slack is told to make no link of its own (verbatim).
func TestABacktickCannotBreakOutOfSlacksCodeSpan(t *testing.T) {
	hostile := ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)
	hostile.Image = "img` *URGENT* https://evil.example/login `"
	ch, err := NewChannel(config.Channel{Name: "chat", Type: config.ChannelSlack, WebhookURL: "https://hooks.example/x"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ch.Render(Message{Channel: "chat", Events: due(snapshot(t0, hostile), nil, t0, thresholds, config.RoutineWarn), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	var payload struct {
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Text     string `json:"text"`
				Verbatim bool   `json:"verbatim"`
			} `json:"text"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(r.Body, &payload); err != nil {
		t.Fatal(err)
	}
	var section string
	for _, b := range payload.Blocks {
		if b.Type == "section" {
			section = b.Text.Text
			if !b.Text.Verbatim {
				t.Error("a section is not verbatim: Slack would link what it finds")
			}
		}
	}
	// Each line's code spans pair up: an odd count means a value broke out of one.
	for _, line := range strings.Split(section, "\n") {
		if strings.Count(line, "`")%2 != 0 {
			t.Errorf("unbalanced code span in %q", line)
		}
	}
	if !strings.Contains(section, "`g/imgˋ *URGENT* https://evil.example/login ˋ/1.0.0`") {
		t.Errorf("the name is not kept whole inside its code span:\n%s", section)
	}
}
