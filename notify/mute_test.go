package notify

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/scanner"
)

func silenceOf(t *testing.T, h *harness, d time.Duration, matchers ...string) silence.Silence {
	t.Helper()
	var ms []silence.Matcher
	for _, s := range matchers {
		m, err := silence.ParseMatcher(s)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	s, err := silence.New(ms, d, "alice", "known: the CI gallery is being rebuilt", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.n.Silences().Add(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestASilenceMutesUntilItEnds: a silenced version is announced nowhere while the silence lasts,
// counted once as suppressed however many scans it stays muted; a version it does not match is
// announced as usual; when the silence is expired, what is due is announced at the next scan.
func TestASilenceMutesUntilItEnds(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	reg := prometheus.NewRegistry()
	h.n.metrics = NewMetrics(reg)
	quiet := judged(ver("ci", "1.0.0", t0.Add(20*time.Hour), 0, nil), "newest")
	loud := judged(ver("prod", "1.0.0", t0.Add(20*time.Hour), 0, nil), "newest")
	s := silenceOf(t, h, 7*24*time.Hour, "gallery=ci", `image=~"im.*"`)
	for range 3 {
		h.scan(snapshot(h.clock.Now(), quiet, loud), nil)
		h.clock.Advance(15 * time.Minute)
	}
	got := rx.webhookEvents(t)
	for _, e := range got {
		if e.Version.Gallery == "ci" {
			t.Errorf("a silenced version was announced: %s", e.Type)
		}
	}
	if len(got) == 0 {
		t.Fatal("the version no silence matches was not announced")
	}
	if n := testutil.ToFloat64(h.n.metrics.muted.WithLabelValues("hook", "silenced")); n != 1 { // deleted, which covers the 24h threshold
		t.Errorf("suppressed{reason=silenced} = %v over three scans, want 1: each muted event once", n)
	}
	if _, err := h.n.Silences().Expire(s.ID, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	before := len(rx.webhookEvents(t))
	h.scan(snapshot(h.clock.Now(), quiet, loud), nil)
	var after []string
	for _, e := range rx.webhookEvents(t)[before:] {
		after = append(after, e.Version.Gallery+"/"+string(e.Type))
	}
	if !slices.Equal(after, []string{"ci/deleted"}) {
		t.Errorf("after the silence: %v, want the deletion it muted (it covers the threshold)", after)
	}
}

// TestANewReasonIsHeardThroughASilence: a silence made while a version was routine mutes it for
// what it was; once a workload uses it, its deletion is announced all the same.
func TestANewReasonIsHeardThroughASilence(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	s := h.n.current()
	s.Routine = config.RoutineWarn
	h.n.Configure(s)
	silenceOf(t, h, 7*24*time.Hour, "gallery=ci")
	routine := judged(ver("ci", "1.0.0", t0.Add(60*time.Hour), 0, nil))
	h.scan(snapshot(h.clock.Now(), routine), nil)
	if got := heard(t, rx); len(got) != 0 {
		t.Fatalf("a silenced routine version was announced: %v", got)
	}
	h.clock.Advance(time.Hour)
	inUse := judged(routine, "in-use")
	h.scan(snapshot(h.clock.Now(), inUse), nil)
	if got := heard(t, rx); !slices.Equal(got, []string{"1.0.0/deleted"}) {
		t.Errorf("once in use: heard %v, want its deletion", got)
	}
}

// TestASilencedVersionIsLeftOutOfTheDigest: the digest lists what was pruned, less what a
// silence mutes.
func TestASilencedVersionIsLeftOutOfTheDigest(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	silenceOf(t, h, 7*24*time.Hour, "id="+ver("ci", "1.0.0", t0, 0, nil).ID())
	vs := []scanner.Version{judged(ver("ci", "1.0.0", t0.Add(150*time.Hour), 0, nil)), judged(ver("ci", "1.1.0", t0.Add(150*time.Hour), 0, nil))}
	for i := range vs {
		vs[i].SoftDeletedAt = t0.Add(-2 * time.Hour)
	}
	m := newMute(mustList(t, h), snapshot(t0, vs...), nil, t0)
	d := digestFor(snapshot(t0, vs...), router{all: []string{"hook"}}, m, "hook", t0.Add(-24*time.Hour), t0, t0.Add(24*time.Hour))
	if d.Pruned.Count != 1 || d.Pruned.Versions[0].Version != "1.1.0" {
		t.Errorf("the digest lists %+v, want 1.1.0 alone", d.Pruned)
	}
}

// TestRoutineThresholdsAreCountedAsSuppressed: with notify.routine digest, each threshold a
// routine version crosses counts once as suppressed{reason=routine}.
func TestRoutineThresholdsAreCountedAsSuppressed(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	h.n.metrics = NewMetrics(prometheus.NewRegistry())
	v := judged(ver("ci", "1.0.0", t0.Add(73*time.Hour), 0, nil))
	for range 3 { // 73 h, 72 h 30 m (crossed 72 h), 72 h
		if err := h.n.Announce(context.Background(), snapshot(h.clock.Now(), v), nil, scanner.Coverage{Complete: true}); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(30 * time.Minute)
	}
	if n := testutil.ToFloat64(h.n.metrics.muted.WithLabelValues("hook", "routine")); n != 1 {
		t.Errorf("suppressed{reason=routine} = %v, want 1 (the 72h threshold)", n)
	}
}

func mustList(t *testing.T, h *harness) []silence.Silence {
	t.Helper()
	l, err := h.n.Silences().List()
	if err != nil {
		t.Fatal(err)
	}
	return l
}
