package notify

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/state"
)

// Each channel's last delivery and last failure are kept in the state file beside what they
// record, so the status page can answer "did the last one arrive?" across restarts. (The page
// counts each channel's waiting and dead messages from the outbox it lists anyway.)
func TestEachChannelsLastSendsAreKept(t *testing.T) {
	up, down := newReceiver(t), newReceiver(t)
	down.fail(100, http.StatusServiceUnavailable, "")
	h := newHarness(t, webhookChannel("up", up.srv.URL), webhookChannel("down", down.srv.URL))
	a := ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)
	h.scan(snapshot(t0, a), nil)

	check := func(when string, want map[string]state.Sends, waiting map[string][2]int) {
		t.Helper()
		for ch, w := range waiting {
			letters, err := h.n.Letters(ch)
			if err != nil {
				t.Fatal(err)
			}
			var got [2]int // pending, dead
			for _, l := range letters {
				if l.State == LetterDead {
					got[1]++
				} else {
					got[0]++
				}
			}
			if got != w {
				t.Errorf("%s: %s holds %d pending and %d dead, want %v", when, ch, got[0], got[1], w)
			}
		}
		got, err := h.n.Sends()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d channels, want %d: %+v", when, len(got), len(want), got)
		}
		for _, s := range got {
			w := want[s.Channel]
			errorOK := (w.LastError == "") == (s.LastError == "") && strings.Contains(s.LastError, w.LastError)
			w.LastError = s.LastError
			if s != w || !errorOK {
				t.Errorf("%s: %s = %+v, want %+v", when, s.Channel, s, w)
			}
		}
	}
	want := map[string]state.Sends{
		"up":   {Channel: "up", Type: "webhook", LastDelivered: t0, LastDeliveredEvents: 1, Delivered: 1},
		"down": {Channel: "down", Type: "webhook", LastFailed: t0, LastError: "HTTP 503"},
	}
	waiting := map[string][2]int{"up": {0, 0}, "down": {1, 0}}
	check("after the first scan", want, waiting)
	h.restart()
	check("after a restart", want, waiting)

	// up refuses the next message for good: a dead letter, and the last delivery still stands.
	up.fail(1, http.StatusBadRequest, "")
	h.clock.Advance(time.Minute)
	h.scan(snapshot(h.clock.Now(), a, ver("g", "2.0.0", t0.Add(2*time.Hour), 0, nil)), nil)
	want["up"] = state.Sends{Channel: "up", Type: "webhook", LastDelivered: t0, LastDeliveredEvents: 1, Delivered: 1,
		LastFailed: h.clock.Now(), LastError: "HTTP 400"}
	// down was due again (its 30 s backoff is over) and failed again.
	want["down"] = state.Sends{Channel: "down", Type: "webhook", LastFailed: h.clock.Now(), LastError: "HTTP 503"}
	check("after a refusal", want, map[string][2]int{"up": {0, 1}, "down": {2, 0}})
}
