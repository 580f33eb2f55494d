package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// TestBlindnessIsAnnouncedOnceAndResolvedOnce: a credential fails at t0 and stays broken. After
// blindAfter (1h) every channel gets one scan-failing event, not one per scan, not again after a
// restart; the first complete scan resolves it once.
func TestBlindnessIsAnnouncedOnceAndResolvedOnce(t *testing.T) {
	hook, am := newReceiver(t), newReceiver(t)
	h := newHarness(t, webhookChannel("hook", hook.srv.URL),
		config.Channel{Name: "am", Type: config.ChannelAlertmanager, URLs: []string{am.srv.URL}})
	root := scanner.ScopeError{Scope: "/", Code: "InvalidAuthenticationToken", Message: "The access token is invalid.", Reason: scanner.ReasonForbidden}
	blind := scanner.Coverage{Since: t0, Errors: []scanner.ScopeError{root}}
	watch := func(after time.Duration, cov scanner.Coverage) {
		t.Helper()
		h.clock.Advance(after)
		if err := h.watch(cov); err != nil {
			t.Fatal(err)
		}
		h.n.deliverAll(context.Background())
	}

	watch(30*time.Minute, blind)
	if n := len(hook.received()); n != 0 {
		t.Fatalf("%d messages before blindAfter", n)
	}
	watch(31*time.Minute, blind)
	watch(15*time.Minute, blind)
	h.restart()
	watch(15*time.Minute, blind)
	events := hook.webhookEvents(t)
	if len(events) != 1 || events[0].Type != KindScanFailing || events[0].Scan == nil || !events[0].Scan.Since.Equal(t0) ||
		len(events[0].Scan.Errors) != 1 || events[0].Scan.Errors[0].Code != "InvalidAuthenticationToken" ||
		!strings.Contains(strings.Join(events[0].Scan.Advice, " "), "credential") || events[0].Version != nil {
		t.Fatalf("webhook events = %+v, want one scan-failing event naming the failure and what to do", events)
	}

	watch(15*time.Minute, scanner.Coverage{Complete: true, Since: h.clock.Now()})
	watch(15*time.Minute, scanner.Coverage{Complete: true, Since: h.clock.Now()})
	events = hook.webhookEvents(t)
	if len(events) != 2 || events[1].Type != KindResolved || events[1].Reason != ReasonScanRecovered {
		t.Fatalf("webhook events = %+v, want the scan-failing one and one scan-recovered", events)
	}

	// Alertmanager: the blindness alert fired at 61m, was sent again while blind (it ends 45m after
	// each send), and the resolution ended it at the time of the recovering scan.
	bodies := am.received()
	var ends []time.Time
	for _, body := range bodies {
		var alerts []postableAlert
		if err := json.Unmarshal(body, &alerts); err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || alerts[0].Labels["alertname"] != AlertBlind || alerts[0].Labels["severity"] != "critical" || !alerts[0].StartsAt.Equal(t0) {
			t.Fatalf("alerts = %+v", alerts)
		}
		ends = append(ends, alerts[0].EndsAt)
	}
	recovered := t0.Add(30*time.Minute + 31*time.Minute + 15*time.Minute + 15*time.Minute + 15*time.Minute)
	if len(ends) < 3 || !ends[0].Equal(t0.Add(61*time.Minute+45*time.Minute)) || !ends[len(ends)-1].Equal(recovered) {
		t.Errorf("blindness alert endsAt %v: want it to fire at 61m (+45m lead), be kept alive, and end at %v", ends, recovered)
	}
}

// TestEveryChannelSaysItIsBlind renders the scan-failing event on each text channel.
func TestEveryChannelSaysItIsBlind(t *testing.T) {
	cov := scanner.Coverage{Since: t0, Errors: []scanner.ScopeError{{Scope: "/", Code: "InvalidAuthenticationToken",
		Message: "The access token is invalid.", Reason: scanner.ReasonForbidden}}}
	e := Event{ID: "x", Kind: KindScanFailing, Severity: "critical", Since: t0, Scan: scanFailure(cov)}
	for _, typ := range []string{config.ChannelSlack, config.ChannelTeams, config.ChannelEmail} {
		ch, err := NewChannel(config.Channel{Name: typ, Type: typ, WebhookURL: "http://127.0.0.1:1/x", From: "a@example.com",
			To: []string{"b@example.com"}, SMTP: config.SMTP{Host: "127.0.0.1", Port: 25, TLS: "none"}}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := ch.Render(Message{Channel: typ, Events: []Event{e}, Now: t0.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		text := r.Subject + "\n" + string(r.Body)
		for _, want := range []string{"InvalidAuthenticationToken", "2026-11-27 12:00 UTC", "credential"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", typ, want, text)
			}
		}
		if strings.Contains(text, "0001-01-01") || strings.Contains(text, "subscription ``") {
			t.Errorf("%s renders an empty version:\n%s", typ, text)
		}
	}
}
