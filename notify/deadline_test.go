package notify

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// TestBothDeadlinesAreAnnounced follows a version in a gallery with a 7-day grace period: it
// becomes unusable 12 hours after the first scan and is purged a week later. The consumption end
// is warned of before it happens, tightest threshold per deadline, and then the purge in its turn.
func TestBothDeadlinesAreAnnounced(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	v := ver("grace", "2024.10.0", t0.Add(180*time.Hour), 7, nil) // unusable at 12h, purged at 180h
	plain := ver("plain", "1.0.0", t0.Add(30*time.Hour), 0, nil)  // no grace: one deadline

	type seen struct {
		version  string
		kind     Kind
		deadline scanner.Deadline
		th       string
		reason   Reason
	}
	scanAt := func(after time.Duration, vs ...scanner.Version) {
		h.clock.Advance(after)
		h.scan(snapshot(h.clock.Now(), vs...), nil)
	}
	scanAt(0, v, plain)           // 12h to the consumption end, 30h to plain's purge
	scanAt(7*time.Hour, v, plain) // 5h, 23h
	scanAt(6*time.Hour, v, plain) // unusable; 17h
	scanAt(164*time.Hour, v)      // 3h to the purge; plain has left the bin, purged
	var got []seen
	for _, e := range rx.webhookEvents(t) {
		got = append(got, seen{e.Version.Version.Version, e.Type, e.Deadline, e.Threshold, e.Reason})
	}
	want := []seen{
		{"2024.10.0", KindExpiring, scanner.DeadlineConsumptionEnd, "24h", ""},
		{"1.0.0", KindExpiring, scanner.DeadlinePurge, "72h", ""},
		{"2024.10.0", KindExpiring, scanner.DeadlineConsumptionEnd, "6h", ""},
		{"1.0.0", KindExpiring, scanner.DeadlinePurge, "24h", ""},
		{"2024.10.0", KindUnusable, "", "", ""},
		{"2024.10.0", KindExpiring, scanner.DeadlinePurge, "6h", ""},
		{"1.0.0", KindResolved, "", "", ReasonPurged},
	}
	if !sameEvents(got, want) {
		t.Fatalf("events:\n%+v\nwant:\n%+v", got, want)
	}
}

func sameEvents[T comparable](got, want []T) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// TestTheConsumptionEndReadsAsItsOwnDeadline renders one consumption-end warning on every text
// channel: each must say the version becomes unusable, and when, not that it is purged.
func TestTheConsumptionEndReadsAsItsOwnDeadline(t *testing.T) {
	v := ver("grace", "2024.10.0", t0.Add(12*time.Hour+7*24*time.Hour), 7, nil)
	events := due(snapshot(t0, v), nil, t0, thresholds, config.RoutineWarn)
	if len(events) != 1 || events[0].Deadline != scanner.DeadlineConsumptionEnd || events[0].Severity != "critical" {
		t.Fatalf("due = %+v, want one critical consumption-end warning", events)
	}
	m := Message{Channel: "x", Events: events, Now: t0, ARMEndpoint: "https://management.azure.com"}
	for _, typ := range []string{config.ChannelSlack, config.ChannelTeams, config.ChannelEmail} {
		ch, err := NewChannel(config.Channel{Name: typ, Type: typ, WebhookURL: "http://127.0.0.1:1/x", From: "a@example.com",
			To: []string{"b@example.com"}, SMTP: config.SMTP{Host: "127.0.0.1", Port: 25, TLS: "none"}}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := ch.Render(m)
		if err != nil {
			t.Fatal(err)
		}
		text := r.Subject + "\n" + string(r.Body)
		if !strings.Contains(strings.ToLower(text), "unusable") || !strings.Contains(text, "12h") {
			t.Errorf("%s does not announce the consumption end in 12h:\n%s", typ, text)
		}
	}
	am, err := NewChannel(config.Channel{Name: "am", Type: config.ChannelAlertmanager, URLs: []string{"http://127.0.0.1:1"}}, Deps{AlertLead: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := am.Render(m)
	if !strings.Contains(string(r.Body), `"deadline":"consumptionEnd"`) || !strings.Contains(string(r.Body), `"severity":"critical"`) {
		t.Errorf("alertmanager alert lacks the deadline label or severity: %s", r.Body)
	}
}

// TestWorkloadsMakeAnyWarningCritical: a version still in use is critical at every threshold.
func TestWorkloadsMakeAnyWarningCritical(t *testing.T) {
	v := ver("g", "1.0.0", t0.Add(60*time.Hour), 0, nil)
	snap := snapshot(t0, v)
	users := map[string][]scanner.Workload{strings.ToLower(v.ID()): {{Kind: "vm", ID: "/subscriptions/s/vm/web-1"}}}
	events := due(snap, users, t0, thresholds, config.RoutineWarn)
	if len(events) != 1 || events[0].Severity != "critical" || events[0].Threshold != 72*time.Hour {
		t.Fatalf("due = %+v, want a critical 72h warning", events)
	}
}
