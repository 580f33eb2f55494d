package notify

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/scanner"
)

// Each stage on its own; notifier_test drives them together.

func open(t *testing.T, v scanner.Version, since time.Time) openVersion {
	t.Helper()
	t.Helper()
	shared, own := encodeOpen(v)
	return openVersion{OpenVersion: state.OpenVersion{Key: versionKey(v), Version: own, Shared: shared, Since: since, Severity: "warning"}, version: &v}
}

func TestResolveSaysWhyAVersionLeftAndWaitsWhenItCannotTell(t *testing.T) {
	stay := ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)
	recovered := ver("g", "2.0.0", t0.Add(time.Hour), 0, nil)
	purged := ver("g", "3.0.0", t0.Add(-time.Minute), 0, nil)
	gone := ver("g", "4.0.0", t0.Add(time.Hour), 0, nil)
	unknown := ver("g", "5.0.0", t0.Add(time.Hour), 0, nil)
	opens := []openVersion{open(t, stay, t0), open(t, recovered, t0), open(t, purged, t0), open(t, gone, t0), open(t, unknown, t0)}
	live := map[string]bool{lower(recovered.ID()): true, lower(gone.ID()): false}
	events := resolve(opens, newPresence(snapshot(t0, stay)), live, t0)
	var got []string
	for _, e := range events {
		got = append(got, e.Version.Version+"/"+string(e.Reason))
	}
	if want := []string{"2.0.0/recovered", "3.0.0/purged", "4.0.0/gone"}; !slices.Equal(got, want) {
		t.Errorf("resolve = %v, want %v (5.0.0 waits: nobody asked Azure yet)", got, want)
	}
	broken := fakeLedger{opens: []state.OpenVersion{{Key: "k", Version: []byte("{")}, {Version: []byte{openFormat, 200}}}}
	ch, err := NewChannel(webhookChannel("c", "http://127.0.0.1:1"), Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readOpens(broken, []Channel{ch}, newPresence(snapshot(t0))); err == nil {
		t.Error("a broken log entry must be an error, not a silent skip")
	}
}

func TestRouteKeepsWhatAChannelIsMeantToHear(t *testing.T) {
	prod, dev := ver("prod", "1.0.0", t0.Add(time.Hour), 0, nil), ver("dev", "1.0.0", t0.Add(time.Hour), 0, nil)
	events := due(snapshot(t0, prod, dev), nil, t0, thresholds, config.RoutineWarn)
	r := router{routes: []config.Route{{Match: config.Match{Gallery: "prod"}, Channels: []string{"oncall"}}}, all: []string{"oncall", "all"}}
	if got := route(r, events, "oncall"); len(got) != 1 || got[0].Version.Gallery != "prod" {
		t.Errorf("oncall gets %v", got)
	}
	if got := route(r, events, "all"); len(got) != 2 {
		t.Errorf("a channel no route names gets everything: %v", got)
	}
}

func TestDedupeDropsWhatTheLogHoldsAndKeepsFirstAnnounced(t *testing.T) {
	v := ver("g", "1.0.0", t0.Add(5*time.Hour), 0, nil)
	events := due(snapshot(t0, v), nil, t0, thresholds, config.RoutineWarn)
	first := t0.Add(-24 * time.Hour)
	l := fakeLedger{seen: map[string]bool{}}
	fresh, err := dedupe(l, "c", events, []openVersion{open(t, v, first)}, t0)
	if err != nil || len(fresh) != 1 || !fresh[0].Since.Equal(first) {
		t.Fatalf("fresh = %+v, %v: an announced version keeps when it was first announced", fresh, err)
	}
	l.seen[events[0].ID] = true
	if fresh, _ := dedupe(l, "c", events, nil, t0); len(fresh) != 0 {
		t.Errorf("a logged event went through again: %+v", fresh)
	}
	if fresh, _ := dedupe(emptyLog{}, "c", events, nil, t0); len(fresh) != 1 || !fresh[0].Since.Equal(t0) || fresh[0].PreviousSeverity != "" {
		t.Errorf("nothing announced before: %+v", fresh)
	}
}

type fakeLedger struct {
	seen  map[string]bool
	opens []state.OpenVersion
}

func (f fakeLedger) OpenVersions(string, map[string]bool) ([]state.OpenVersion, error) {
	return f.opens, nil
}
func (fakeLedger) BlindEpisode(string) (json.RawMessage, error) { return nil, nil }
func (f fakeLedger) Logged(_ string, keys []state.Key) (map[string]bool, error) {
	out := map[string]bool{}
	for _, k := range keys {
		out[k.ID] = f.seen[k.ID]
	}
	return out, nil
}

func lower(s string) string { return strings.ToLower(s) }

// liveSet is a Liveness that knows which versions are live again, and counts questions.
type liveSet struct {
	live  map[string]bool
	asked [][]string
}

func (l *liveSet) LiveVersions(_ context.Context, ids []string) map[string]bool {
	l.asked = append(l.asked, ids)
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = l.live[id]
	}
	return out
}

func TestAnnounceAsksLivenessOnlyAboutVersionsThatLeft(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	a, b := ver("g", "1.0.0", t0.Add(5*time.Hour), 0, nil), ver("g", "2.0.0", t0.Add(5*time.Hour), 0, nil)
	live := &liveSet{live: map[string]bool{lower(a.ID()): true}}
	h.set.Liveness = live
	h.n.Configure(h.set)
	cov := scanner.Coverage{Complete: true, Since: t0}
	if err := h.n.Announce(t.Context(), snapshot(t0, a, b), nil, cov); err != nil {
		t.Fatal(err)
	}
	if len(live.asked) != 0 {
		t.Fatalf("asked about %v while every version was still in the bin", live.asked)
	}
	h.clock.Advance(15 * time.Minute)
	if err := h.n.Announce(t.Context(), snapshot(h.clock.Now()), nil, cov); err != nil {
		t.Fatal(err)
	}
	h.n.deliverAll(t.Context())
	if len(live.asked) != 1 || len(live.asked[0]) != 2 {
		t.Fatalf("asked %v, want one question about both versions", live.asked)
	}
	got := kinds(rx.webhookEvents(t))
	if !slices.Contains(got, "1.0.0/resolvedrecovered") || !slices.Contains(got, "2.0.0/resolvedgone") {
		t.Errorf("events %v: a live version is recovered, the other gone", got)
	}
	// A scan that read nothing announces nothing and resolves nothing.
	if err := h.n.Announce(t.Context(), nil, nil, scanner.Coverage{Since: t0}); err != nil || len(live.asked) != 1 {
		t.Errorf("a blind scan: %v, asked %v", err, live.asked)
	}
}
