package notify

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

func kinds(events []WebhookEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		name := "" // a digest or a blind episode is about no one version
		if e.Version != nil {
			name = e.Version.Version.Version
		}
		out[i] = fmt.Sprintf("%s/%s%s%s", name, e.Type, e.Threshold, e.Reason)
	}
	return out
}

func TestThresholdsAreCrossedOneByOne(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	v := ver("g", "1.0.0", t0.Add(80*time.Hour), 0, nil)

	var got []string
	for _, step := range []struct {
		advance time.Duration
		want    []string
	}{
		{0, nil}, // 80h left: above every threshold
		{9 * time.Hour, []string{"1.0.0/expiring72h"}}, // 71h left
		{time.Hour, nil}, // still 72h: nothing new
		{47 * time.Hour, []string{"1.0.0/expiring24h"}},
		{17 * time.Hour, []string{"1.0.0/expiring6h"}},
		{5 * time.Hour, nil}, // purge due, still listed: below every threshold, all announced
	} {
		h.clock.Advance(step.advance)
		before := len(rx.webhookEvents(t))
		h.scan(snapshot(h.clock.Now(), v), nil)
		got = kinds(rx.webhookEvents(t)[before:])
		if !slices.Equal(got, step.want) {
			t.Fatalf("at %v left: got %v, want %v", v.PurgeAt.Sub(h.clock.Now()), got, step.want)
		}
	}
}

func TestFirstSightBelowSeveralThresholdsSendsOnlyTheTightest(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	h.scan(snapshot(t0,
		ver("g", "in20h", t0.Add(20*time.Hour), 0, nil),
		ver("g", "overdue", t0.Add(-time.Hour), 0, nil),
		ver("g", "in5d", t0.Add(5*24*time.Hour), 0, nil),
	), nil)
	want := []string{"overdue/expiring6h", "in20h/expiring24h"}
	if got := kinds(rx.webhookEvents(t)); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (soonest first, tightest threshold only)", got, want)
	}
	if n := len(rx.received()); n != 1 {
		t.Errorf("messages = %d, want one digest", n)
	}
}

func TestUnusableIsAnnouncedOnceDuringTheGracePeriod(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	v := ver("g", "2.0.0", t0.Add(10*24*time.Hour), 30, nil) // usable life ended 20 days ago
	h.scan(snapshot(t0, v), nil)
	h.clock.Advance(time.Hour)
	h.scan(snapshot(h.clock.Now(), v), nil)
	if got := kinds(rx.webhookEvents(t)); !slices.Equal(got, []string{"2.0.0/unusable"}) {
		t.Fatalf("got %v", got)
	}
}

func TestResolvedCarriesWhyTheVersionLeft(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	recovered := ver("g", "recovered", t0.Add(10*time.Hour), 0, nil)
	purged := ver("g", "purged", t0.Add(2*time.Hour), 0, nil)
	gone := ver("g", "gone", t0.Add(20*time.Hour), 0, nil)
	unknown := ver("g", "unknown", t0.Add(20*time.Hour), 0, nil)
	redeleted := ver("g", "redeleted", t0.Add(20*time.Hour), 0, nil)
	quiet := ver("g", "quiet", t0.Add(30*24*time.Hour), 0, nil) // never announced
	h.scan(snapshot(t0, recovered, purged, gone, unknown, redeleted, quiet), nil)

	seen := newPresence(snapshot(t0))
	opens, err := readOpens(h.file, h.set.Channels, seen)
	absent := absent(opens, seen)
	if err != nil || len(absent) != 5 {
		t.Fatalf("Absent = %v, %v; want the 5 announced versions", absent, err)
	}

	h.clock.Advance(3 * time.Hour) // past purged's purge time
	again := redeleted
	again.SoftDeletedAt = h.clock.Now().Add(-time.Minute) // recovered, then deleted again
	again.PurgeAt = again.SoftDeletedAt.Add(7 * 24 * time.Hour)
	again.ConsumptionEndsAt = again.PurgeAt
	live := map[string]bool{strings.ToLower(recovered.ID()): true, strings.ToLower(gone.ID()): false}
	before := len(rx.webhookEvents(t))
	h.scan(snapshot(h.clock.Now(), again, quiet), live)
	got := kinds(rx.webhookEvents(t)[before:])
	slices.Sort(got)
	want := []string{"gone/resolvedgone", "purged/resolvedpurged", "recovered/resolvedrecovered", "redeleted/resolvedrecovered"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (unknown waits for a live check)", got, want)
	}

	// Next scan, the live check answers for "unknown": it is resolved then, once.
	h.clock.Advance(time.Hour)
	before = len(rx.webhookEvents(t))
	h.scan(snapshot(h.clock.Now(), again, quiet), map[string]bool{strings.ToLower(unknown.ID()): false})
	if got := kinds(rx.webhookEvents(t)[before:]); !slices.Equal(got, []string{"unknown/resolvedgone"}) {
		t.Fatalf("got %v", got)
	}
}

func TestRoutesPickChannelsByTags(t *testing.T) {
	teamA, rest := newReceiver(t), newReceiver(t)
	h := newHarness(t, webhookChannel("team-a", teamA.srv.URL), webhookChannel("everyone", rest.srv.URL))
	h.set.Routes = []config.Route{{Match: config.Match{Tags: map[string]string{"owner": "team-a"}}, Channels: []string{"team-a"}}}
	h.restart()
	h.scan(snapshot(t0,
		ver("g", "theirs", t0.Add(time.Hour), 0, map[string]string{"owner": "team-a"}),
		ver("g", "nobodys", t0.Add(2*time.Hour), 0, map[string]string{"owner": "team-b"}),
	), nil)
	if got := kinds(teamA.webhookEvents(t)); !slices.Equal(got, []string{"theirs/expiring6h"}) {
		t.Errorf("team-a got %v", got)
	}
	if got := kinds(rest.webhookEvents(t)); !slices.Equal(got, []string{"theirs/expiring6h", "nobodys/expiring6h"}) {
		t.Errorf("everyone got %v: a channel no route names gets every version", got)
	}
}

func TestAVersionNoRouteReachesGoesEverywhere(t *testing.T) {
	a, b := newReceiver(t), newReceiver(t)
	h := newHarness(t, webhookChannel("a", a.srv.URL), webhookChannel("b", b.srv.URL))
	h.set.Routes = []config.Route{
		{Match: config.Match{Gallery: "ga"}, Channels: []string{"a"}},
		{Match: config.Match{Gallery: "gb"}, Channels: []string{"b"}},
	}
	h.restart()
	h.scan(snapshot(t0, ver("ga", "1", t0.Add(time.Hour), 0, nil), ver("other", "2", t0.Add(2*time.Hour), 0, nil)), nil)
	if got := kinds(a.webhookEvents(t)); !slices.Equal(got, []string{"1/expiring6h", "2/expiring6h"}) {
		t.Errorf("a got %v", got)
	}
	if got := kinds(b.webhookEvents(t)); !slices.Equal(got, []string{"2/expiring6h"}) {
		t.Errorf("b got %v: the unrouted version must not be dropped", got)
	}
}

func TestAChannelDownForSeveralScansGetsEveryEventExactlyOnce(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	rx.fail(1000, http.StatusBadGateway, "")
	vs := []scanner.Version{ver("g", "a", t0.Add(60*time.Hour), 0, nil)}
	for i := range 4 { // four scans, 15 minutes apart, a new version each time
		vs = append(vs, ver("g", fmt.Sprintf("v%d", i), t0.Add(time.Duration(10+i)*time.Hour), 0, nil))
		h.scan(snapshot(h.clock.Now(), vs...), nil)
		h.clock.Advance(15 * time.Minute)
	}
	if n := len(rx.received()); n != 0 {
		t.Fatalf("%d messages got through a down channel", n)
	}
	tally, _ := h.file.Counts()
	if tally.Pending["hook"] != 5 {
		t.Errorf("pending = %v, want all 5 events kept", tally.Pending)
	}

	rx.fail(0, 0, "")
	h.clock.Advance(2 * time.Hour) // past any backoff
	h.scan(snapshot(h.clock.Now(), vs...), nil)
	events := rx.webhookEvents(t)
	seen := map[string]int{}
	for _, e := range events {
		seen[e.ID]++
	}
	if len(events) != 5 || len(seen) != 5 {
		t.Fatalf("after recovery: %d events, %d distinct: %v", len(events), len(seen), kinds(events))
	}
	// Messages in the order they were queued; each digest soonest purge first.
	want := []string{"v0/expiring24h", "a/expiring72h", "v1/expiring24h", "v2/expiring24h", "v3/expiring24h"}
	if got := kinds(events); !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	h.clock.Advance(time.Minute)
	h.scan(snapshot(h.clock.Now(), vs...), nil)
	if n := len(rx.webhookEvents(t)); n != 5 {
		t.Errorf("%d events after another scan: something was sent twice", n)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, config.Channel{Name: "chat", Type: config.ChannelSlack, WebhookURL: rx.srv.URL})
	rx.fail(1, http.StatusTooManyRequests, "120")
	next := h.scan(snapshot(t0, ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)), nil)
	if want := t0.Add(120 * time.Second); !next.Equal(want) {
		t.Fatalf("next attempt %v, want %v (Slack's Retry-After over the 30s backoff)", next, want)
	}
	h.clock.Advance(119 * time.Second)
	h.n.deliverAll(t.Context())
	if n := len(rx.received()); n != 0 {
		t.Fatal("retried before Retry-After")
	}
	h.clock.Advance(time.Second)
	h.n.deliverAll(t.Context())
	if n := len(rx.received()); n != 1 {
		t.Fatalf("messages after Retry-After = %d", n)
	}
}

func TestBackoffDoublesToTheCap(t *testing.T) {
	r := config.Retry{Initial: 30 * time.Second, Max: 10 * time.Minute}
	var got []time.Duration
	for attempt := 1; attempt <= 7; attempt++ {
		got = append(got, backoff(r, attempt, 0))
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	if !slices.Equal(got, want) {
		t.Errorf("backoff = %v", got)
	}
	if d := backoff(r, 1, 5*time.Minute); d != 5*time.Minute {
		t.Errorf("Retry-After of 5m gives %v", d)
	}
	// A receiver asking for ten years gets notify.retry.max: it cannot park the channel.
	if d := backoff(r, 1, 315360000*time.Second); d != r.Max {
		t.Errorf("Retry-After of ten years gives %v, want retry.max %v", d, r.Max)
	}
}

func TestARestartSendsNothingTwice(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	snap := snapshot(t0, ver("g", "1.0.0", t0.Add(time.Hour), 0, nil), ver("g", "2.0.0", t0.Add(50*time.Hour), 0, nil))
	h.scan(snap, nil)
	if n := len(rx.webhookEvents(t)); n != 2 {
		t.Fatalf("first process sent %d events", n)
	}
	h.restart() // a new process on the same state file
	h.clock.Advance(time.Minute)
	h.scan(snapshot(h.clock.Now(), snap.Versions...), nil)
	if n := len(rx.webhookEvents(t)); n != 2 {
		t.Fatalf("after a restart: %d events, want the same 2", n)
	}
}

func TestAFailedSendSurvivesARestart(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	rx.fail(1, http.StatusServiceUnavailable, "")
	snap := snapshot(t0, ver("g", "1.0.0", t0.Add(time.Hour), 0, nil))
	h.scan(snap, nil)
	h.restart()
	h.clock.Advance(time.Minute)
	h.n.deliverAll(t.Context())
	if got := kinds(rx.webhookEvents(t)); !slices.Equal(got, []string{"1.0.0/expiring6h"}) {
		t.Fatalf("after restart: %v", got)
	}
}

func TestDigestsAreSplitAtTheChannelsLimit(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, config.Channel{Name: "chat", Type: config.ChannelSlack, WebhookURL: rx.srv.URL})
	var vs []scanner.Version
	for i := range 45 {
		vs = append(vs, ver("g", fmt.Sprintf("1.0.%02d", i), t0.Add(time.Duration(i+1)*time.Minute), 0, nil))
	}
	h.scan(snapshot(t0, vs...), nil)
	bodies := rx.received()
	if len(bodies) != 2 {
		t.Fatalf("messages = %d, want 2 (40 + 5)", len(bodies))
	}
	var sections int
	for _, b := range bodies {
		sections += strings.Count(string(b), `"type":"section"`)
	}
	if sections != 45 {
		t.Errorf("sections = %d, want one per version", sections)
	}
}
