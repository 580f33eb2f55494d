package notify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// digestHarness is a harness whose routine versions go to a digest at 09:00 UTC.
func digestHarness(t *testing.T, channels ...config.Channel) *harness {
	h := newHarness(t, channels...)
	sched, err := config.ParseDigestSchedule("0 9 * * *")
	if err != nil {
		t.Fatal(err)
	}
	h.set.Routine, h.set.Digest = config.RoutineDigest, sched // kept across h.restart
	s := h.n.current()
	s.Routine, s.Digest = h.set.Routine, h.set.Digest
	h.n.Configure(s)
	return h
}

// pruned is a routine version of gallery g soft-deleted at deleted, purged a week later.
func pruned(g, name string, deleted time.Time) scanner.Version {
	v := judged(ver(g, name, deleted.Add(7*24*time.Hour), 0, nil))
	v.SoftDeletedAt = deleted
	return v
}

// TestTheDigestComesOncePerTime: a pipeline's pruning is one message a day per channel, sent
// with the first scan after 09:00, never twice (not at the next scan, not after a restart), and
// it says what was pruned the day before and what goes before the next one. The mistake beside
// it is announced on its own.
func TestTheDigestComesOncePerTime(t *testing.T) {
	rx := newReceiver(t)
	h := digestHarness(t, webhookChannel("hook", rx.srv.URL))
	// t0 is 27 November 12:00: the digest due is 09:00's, about 26 Nov 09:00 to 27 Nov 09:00.
	yesterday := pruned("g", "1.0.0", t0.Add(-26*time.Hour))             // 26 Nov 10:00: pruned in the window
	goingSoon := pruned("g", "0.9.0", t0.Add(-7*24*time.Hour+time.Hour)) // purged 27 Nov 13:00
	older := pruned("g", "0.8.0", t0.Add(-5*24*time.Hour))               // neither: told in an earlier digest
	mistake := judged(ver("g", "2.0.0", t0.Add(100*time.Hour), 0, nil), "newest")
	snap := func() *scanner.Snapshot { return snapshot(h.clock.Now(), yesterday, goingSoon, older, mistake) }

	h.scan(snap(), nil)
	h.clock.Advance(15 * time.Minute)
	h.scan(snap(), nil)
	h.restart()
	h.scan(snap(), nil)
	events := rx.webhookEvents(t)
	if got := kinds(events); !slices.Equal(got, []string{"2.0.0/deleted", "/digest"}) {
		t.Fatalf("after three scans and a restart: %v, want the mistake and one digest", got)
	}
	d := events[1].Digest
	names := func(l WebhookDigestList) (out []string) {
		for _, v := range l.Versions {
			out = append(out, v.Version.Version)
			if v.Routine == nil || !*v.Routine {
				t.Errorf("digest version %s is not marked routine", v.Version.Version)
			}
		}
		return out
	}
	if !d.Until.Equal(t0.Add(-3*time.Hour)) || !d.Since.Equal(t0.Add(-27*time.Hour)) || !d.Next.Equal(t0.Add(21*time.Hour)) {
		t.Errorf("digest window %s to %s, next %s; want 26 Nov 09:00 to 27 Nov 09:00, next 28 Nov 09:00", d.Since, d.Until, d.Next)
	}
	if p, g := names(d.Pruned), names(d.Purging); !slices.Equal(p, []string{"1.0.0"}) || !slices.Equal(g, []string{"0.9.0"}) || d.Pruned.Count != 1 {
		t.Errorf("digest pruned %v purging %v, want [1.0.0] and [0.9.0]", p, g)
	}

	h.clock.Set(time.Date(2026, 11, 28, 9, 5, 0, 0, time.UTC))
	today := pruned("g", "1.1.0", time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC))
	h.scan(snapshot(h.clock.Now(), yesterday, today, older, mistake), nil)
	events = rx.webhookEvents(t)
	if got := kinds(events); len(got) != 3 || got[2] != "/digest" {
		t.Fatalf("the next morning: %v, want the second day's digest", got)
	}
	if p := names(events[2].Digest.Pruned); !slices.Equal(p, []string{"1.1.0"}) {
		t.Errorf("second digest pruned %v, want only the day's [1.1.0]", p)
	}
}

// TestADigestGoesWhereItsVersionsWouldAndNotToAlertmanager: a channel hears of the routine
// versions its routes send it, nothing when there are none, and Alertmanager (alerts, not
// summaries) never.
func TestADigestGoesWhereItsVersionsWouldAndNotToAlertmanager(t *testing.T) {
	a, b, am := newReceiver(t), newReceiver(t), newReceiver(t)
	h := digestHarness(t, webhookChannel("a", a.srv.URL), webhookChannel("b", b.srv.URL),
		config.Channel{Name: "am", Type: config.ChannelAlertmanager, URL: am.srv.URL})
	s := h.n.current()
	s.Routes = []config.Route{{Match: config.Match{Gallery: "ga"}, Channels: []string{"a"}}, {Match: config.Match{Gallery: "gb"}, Channels: []string{"b"}}}
	h.n.Configure(s)
	h.scan(snapshot(t0, pruned("ga", "1.0.0", t0.Add(-26*time.Hour))), nil)
	if got := kinds(a.webhookEvents(t)); !slices.Equal(got, []string{"/digest"}) {
		t.Errorf("a heard %v, want its digest", got)
	}
	if n := len(b.received()); n != 0 {
		t.Errorf("b, whose routes match nothing routine, got %d messages", n)
	}
	if n := len(am.received()); n != 0 {
		t.Errorf("Alertmanager got %d messages, want no digest", n)
	}
}

// TestEveryChannelReadsTheDigestAtAGlance renders the digest on each chat and the e-mail: one
// headline that says there is nothing to do, versions grouped by definition, and a long list cut
// with a count rather than refused by the receiver.
func TestEveryChannelReadsTheDigestAtAGlance(t *testing.T) {
	var vs []scanner.Version
	for i := range 25 {
		vs = append(vs, pruned("prodimages", fmt.Sprintf("1.0.%d", i), t0.Add(-26*time.Hour+time.Duration(i)*time.Minute)))
	}
	r := router{all: []string{"x"}}
	d := digestFor(snapshot(t0, vs...), r, nil, "x", t0.Add(-27*time.Hour), t0.Add(-3*time.Hour), t0.Add(21*time.Hour))
	if d.Pruned.Count != 25 || len(d.Pruned.Versions) != digestListed || d.Pruned.Versions[0].Version != "1.0.0" {
		t.Fatalf("digest lists %d of %d pruned, first %s; want %d of 25, soonest first", len(d.Pruned.Versions), d.Pruned.Count, d.Pruned.Versions[0].Version, digestListed)
	}
	e := []Event{{ID: "d", Kind: KindDigest, Severity: "info", Digest: &d}}
	headline := "Routine pruning: 25 image versions soft-deleted since Nov 26 09:00, 0 purged before Nov 28 09:00 UTC; nothing to do"
	for typ, want := range map[string][]string{
		config.ChannelSlack: {headline, "*Soft-deleted since 2026-11-26 09:00 UTC: 25*", "`prodimages/img` 1.0.0, 1.0.1", "and 5 more", "nothing to do"},
		config.ChannelTeams: {headline, "**Soft-deleted since 2026-11-26 09:00 UTC: 25**", "prodimages/img: 1.0.0, 1.0.1", "and 5 more"},
		config.ChannelEmail: {"[purgewatch] " + headline, "Soft-deleted since 2026-11-26 09:00 UTC: 25", "  prodimages/img: 1.0.0, 1.0.1", "and 5 more"},
	} {
		text := readAs(t, typ, e)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", typ, w, text)
			}
		}
		for _, never := range []string{"recover", "subscription", "1.0.24"} {
			if strings.Contains(strings.ToLower(text), never) {
				t.Errorf("%s's digest says %q:\n%s", typ, never, text)
			}
		}
	}
}

func TestLastFireIsTheLatestTimeAtOrBeforeNow(t *testing.T) {
	for _, c := range []struct {
		spec      string
		now, want time.Time
	}{
		{"0 9 * * *", time.Date(2026, 12, 4, 10, 18, 0, 0, time.UTC), time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)},
		{"0 9 * * *", time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)},
		{"0 9 * * *", time.Date(2026, 12, 4, 8, 59, 0, 0, time.UTC), time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)},
		{"0 9 * * 1", time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)},
		{"0 0 1 1 *", time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"*/5 * * * *", time.Date(2026, 12, 4, 8, 7, 0, 0, time.UTC), time.Date(2026, 12, 4, 8, 5, 0, 0, time.UTC)},
	} {
		sched, err := config.ParseDigestSchedule(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := lastFire(sched, c.now); !got.Equal(c.want) {
			t.Errorf("%s at %s: %s, want %s", c.spec, c.now, got, c.want)
		}
	}
}

// TestTheDigestSaysWhatThePruningKeepsBilled: with the sizes seen live and
// metrics.storagePricePerGBMonth, the digest says what its versions keep billed and what that
// costs a month; a webhook gets the bytes.
func TestTheDigestSaysWhatThePruningKeepsBilled(t *testing.T) {
	var vs []scanner.Version
	for i := range 2 {
		v := pruned("prodimages", fmt.Sprintf("1.0.%d", i), t0.Add(-26*time.Hour))
		v.RetainedBytes = 260 << 30
		vs = append(vs, v)
	}
	d := digestFor(snapshot(t0, vs...), router{all: []string{"x"}}, nil, "x", t0.Add(-27*time.Hour), t0.Add(-3*time.Hour), t0.Add(21*time.Hour))
	d.PricePerGBMonth = 0.05
	e := []Event{{ID: "d", Kind: KindDigest, Severity: "info", Digest: &d}}
	for _, typ := range people {
		if text := readAs(t, typ, e); !strings.Contains(text, "They keep 520 GiB of replicas billed until their purge (≈ 26.00 a month).") {
			t.Errorf("%s's digest does not say what the pruning keeps billed:\n%s", typ, text)
		}
	}
	if w := webhookEvent(e[0], Message{Now: t0}); w.Digest.RetainedBytes != 520<<30 {
		t.Errorf("the webhook's digest has retainedBytes %d", w.Digest.RetainedBytes)
	}
}
