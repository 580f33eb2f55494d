package notify

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// Each stage on its own; notifier_test drives them together.

func open(t *testing.T, v scanner.Version, since time.Time) openVersion {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return openVersion{key: versionKey(v), raw: raw, since: since, severity: "warning"}
}

func TestResolveSaysWhyAVersionLeftAndWaitsWhenItCannotTell(t *testing.T) {
	stay := ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)
	recovered := ver("g", "2.0.0", t0.Add(time.Hour), 0, nil)
	purged := ver("g", "3.0.0", t0.Add(-time.Minute), 0, nil)
	gone := ver("g", "4.0.0", t0.Add(time.Hour), 0, nil)
	unknown := ver("g", "5.0.0", t0.Add(time.Hour), 0, nil)
	opens := []openVersion{open(t, stay, t0), open(t, recovered, t0), open(t, purged, t0), open(t, gone, t0), open(t, unknown, t0)}
	live := map[string]bool{lower(recovered.ID): true, lower(gone.ID): false}
	events, err := resolve(opens, newPresence(snapshot(t0, stay)), live, t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Version.Version+"/"+string(e.Reason))
	}
	if want := []string{"2.0.0/recovered", "3.0.0/purged", "4.0.0/gone"}; !slices.Equal(got, want) {
		t.Errorf("resolve = %v, want %v (5.0.0 waits: nobody asked Azure yet)", got, want)
	}
	if _, err := resolve([]openVersion{{key: "k", raw: []byte("{")}}, newPresence(snapshot(t0)), nil, t0); err == nil {
		t.Error("a broken log entry must be an error, not a silent skip")
	}
}

func TestRouteKeepsWhatAChannelIsMeantToHear(t *testing.T) {
	prod, dev := ver("prod", "1.0.0", t0.Add(time.Hour), 0, nil), ver("dev", "1.0.0", t0.Add(time.Hour), 0, nil)
	events := due(snapshot(t0, prod, dev), t0, thresholds)
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
	events := due(snapshot(t0, v), t0, thresholds)
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

type fakeLedger struct{ seen map[string]bool }

func (fakeLedger) openVersions(string) ([]openVersion, error) { return nil, nil }
func (f fakeLedger) logged(_ string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = f.seen[id]
	}
	return out, nil
}

func lower(s string) string { return strings.ToLower(s) }
