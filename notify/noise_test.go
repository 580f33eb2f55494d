package notify

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/scanner"
)

// The noise month (docs/benchmarks.md): 40 image definitions, each publishing a version a day at
// 06:00 and pruning to its newest 5 through one service principal, scanned every 15 minutes for
// 30 days, through the real stages (triage, due, route, dedupe, mute, the digest, enqueue,
// deliver) on an injected clock, with three accidents. Messages are counted as each receiver gets
// them.

const (
	noiseDefs    = 40
	noiseKeep    = 5
	noiseScan    = 15 * time.Minute
	noisePipe    = "3f6c2a9e-1b7d-4e5f-9a8c-2d4b6e8f0a13"
	noiseGallery = "images"
)

var noiseStart = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday

// accident is a deletion outside the pipeline's daily pruning.
type accident struct {
	name      string
	at        time.Time
	def, ver  int // the definition, and the version's day of publication
	by        *scanner.Deletion
	routine   bool // what triage should make of it
	usedBySet bool
}

var (
	pipeline = &scanner.Deletion{Caller: noisePipe, AppID: noisePipe, ObjectID: "8e1d4c7b-2a5f-4b9e-8c3d-6f0a2b4d6e81", PrincipalType: "ServicePrincipal", ClientIP: "20.61.17.42"}
	person   = &scanner.Deletion{Caller: "alice@contoso.com", PrincipalName: "alice@contoso.com", PrincipalType: "User", ClientIP: "203.0.113.7"}
)

// accidents are spread over a month of days: in the 30-day month, on days 8, 15 and 22.
func accidents(days int) []accident {
	day := func(d int, h, m int) time.Time {
		return noiseStart.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	d1, d2, d3 := days*8/30, days/2, days*22/30
	return []accident{
		// the newest version of def07, which a scale set uses, deleted by a pipeline run gone wrong
		{name: "newest, in use", at: day(d1, 14, 20), def: 7, ver: d1, by: pipeline, usedBySet: true},
		// an older, unused version of def12 deleted by a person
		{name: "by a person", at: day(d2, 10, 5), def: 12, ver: d2 - 2, by: person},
		// an old unused version of def20 deleted by the pipeline, off its schedule: routine
		{name: "old, by the pipeline", at: day(d3, 16, 40), def: 20, ver: d3 - 3, by: pipeline, routine: true},
	}
}

// estate is the noise month's model: per definition, the live versions and the soft-deleted ones.
type estate struct {
	live    map[int][]int // definition → days of publication of its live versions
	binned  []scanner.Version
	defs    []*scanner.Definition
	scaleAt map[string]bool // lower-cased ids of versions a scale set uses
}

func versionName(day int) string { return fmt.Sprintf("1.0.%d", day) }

func newEstate() *estate {
	e := &estate{live: map[int][]int{}, scaleAt: map[string]bool{}}
	for d := range noiseDefs {
		e.defs = append(e.defs, &scanner.Definition{SubscriptionID: sub, ResourceGroup: "rg-images", Gallery: noiseGallery, Image: fmt.Sprintf("def%02d", d)})
		for day := -noiseKeep + 1; day <= 0; day++ {
			e.live[d] = append(e.live[d], day)
		}
	}
	return e
}

func (e *estate) delete(def, day int, at time.Time, by *scanner.Deletion) {
	i := slices.Index(e.live[def], day)
	if i < 0 {
		return
	}
	e.live[def] = slices.Delete(e.live[def], i, i+1)
	d := *by
	d.At = at
	e.binned = append(e.binned, scanner.Version{Definition: e.defs[def], Version: versionName(day), Location: "westeurope",
		SoftDeletedAt: at, ConsumptionEndsAt: at.Add(7 * 24 * time.Hour), PurgeAt: at.Add(7 * 24 * time.Hour),
		PurgeAtSource: scanner.SourceComputed, DeletedBy: &d})
}

// advance runs what happened in (from, to]: the daily publish and prune at 06:00, the accidents,
// and the purges.
func (e *estate) advance(from, to time.Time, acc []accident, days int) {
	for day := 1; day <= days; day++ {
		if at := noiseStart.Add(time.Duration(day)*24*time.Hour + 6*time.Hour); at.After(from) && !at.After(to) {
			for d := range noiseDefs {
				e.live[d] = append(e.live[d], day)
				for len(e.live[d]) > noiseKeep {
					e.delete(d, e.live[d][0], at, pipeline)
				}
			}
		}
	}
	for _, a := range acc {
		if a.at.After(from) && !a.at.After(to) {
			e.delete(a.def, a.ver, a.at, a.by)
			if a.usedBySet {
				e.scaleAt[strings.ToLower(e.binned[len(e.binned)-1].ID())] = true
			}
		}
	}
	e.binned = slices.DeleteFunc(e.binned, func(v scanner.Version) bool { return !to.Before(v.PurgeAt) })
}

// snapshot is what a scan at now reads, judged as the daemon judges it (judge false: the release
// before triage, which announced every version alike).
func (e *estate) snapshot(now time.Time, judge bool, expected config.ExpectedDeletions) *scanner.Snapshot {
	snap := &scanner.Snapshot{ScannedAt: now, Versions: slices.Clone(e.binned)}
	if !judge {
		return snap
	}
	f := triage.Facts{Live: map[string][]string{}, Users: map[string][]scanner.Workload{}, Workloads: map[string]bool{strings.ToLower(sub): true}}
	for d, days := range e.live {
		img := strings.ToLower(scanner.Version{Definition: e.defs[d], Version: "x"}.ID())
		img = img[:strings.LastIndex(img, "/versions/")]
		f.Live[img] = []string{}
		for _, day := range days {
			f.Live[img] = append(f.Live[img], versionName(day))
		}
	}
	for id := range e.scaleAt {
		f.Users[id] = []scanner.Workload{{Kind: "vmss", ID: "/subscriptions/" + sub + "/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachineScaleSets/web"}}
	}
	triage.Mark(snap, f, expected)
	return snap
}

// heardAt is one message as a receiver got it: when (the injected clock) and its body.
type heardAt struct {
	at   time.Time
	body string
}

type noiseResult struct {
	perWeek map[string][]int     // channel → messages per week
	lines   map[string][]int     // channel → events per week (a message carries many)
	routine map[string]int       // channel → messages naming no accident that is not routine
	first   map[string]time.Time // accident → when a message first named its version
	named   map[string]bool      // accident → that message said who deleted it
}

// month runs the month under one configuration.
func month(t *testing.T, judge bool, routine string, days int) noiseResult {
	t.Helper()
	var mu sync.Mutex
	got := map[string][]heardAt{}
	var h *harness
	receiver := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got[name] = append(got[name], heardAt{h.clock.Now(), string(b)})
			mu.Unlock()
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	h = newHarness(t, config.Channel{Name: "slack", Type: config.ChannelSlack, WebhookURL: receiver("slack")}, webhookChannel("webhook", receiver("webhook")))
	h.clock.Set(noiseStart)
	s := h.n.current()
	s.Routine = routine
	digest, err := config.ParseDigestSchedule("0 9 * * *")
	if err != nil {
		t.Fatal(err)
	}
	s.Digest = digest
	h.n.Configure(s)
	expected := config.ExpectedDeletions{Deleters: []string{noisePipe}}
	e, acc := newEstate(), accidents(days)
	ctx := context.Background()
	for now := noiseStart; now.Before(noiseStart.Add(time.Duration(days) * 24 * time.Hour)); now = now.Add(noiseScan) {
		e.advance(now.Add(-noiseScan), now, acc, days)
		h.clock.Set(now)
		if err := h.n.Announce(ctx, e.snapshot(now, judge, expected), nil, scanner.Coverage{Complete: true, Since: now}); err != nil {
			t.Fatal(err)
		}
		h.n.deliverAll(ctx)
	}
	res := noiseResult{perWeek: map[string][]int{}, lines: map[string][]int{}, routine: map[string]int{},
		first: map[string]time.Time{}, named: map[string]bool{}}
	for ch, msgs := range got {
		weeks, lines := make([]int, (days+6)/7), make([]int, (days+6)/7)
		for _, m := range msgs {
			week := int(m.at.Sub(noiseStart) / (7 * 24 * time.Hour))
			weeks[week]++
			if ch == "slack" {
				lines[week] += strings.Count(m.body, `"type":"section"`)
			} else {
				lines[week] += strings.Count(m.body, `"type":"`) // an event's; a version has none
			}
			aboutAccident := false
			for _, a := range acc {
				name := fmt.Sprintf("def%02d/versions/%s", a.def, versionName(a.ver))
				if !strings.Contains(m.body, name) && !strings.Contains(m.body, fmt.Sprintf("def%02d/%s", a.def, versionName(a.ver))) {
					continue
				}
				aboutAccident = aboutAccident || !a.routine
				if _, seen := res.first[a.name]; !seen && ch == "slack" && !strings.Contains(m.body, "Routine pruning") {
					res.first[a.name] = m.at
					res.named[a.name] = strings.Contains(m.body, a.by.Who())
				}
			}
			if !aboutAccident {
				res.routine[ch]++
			}
		}
		res.perWeek[ch], res.lines[ch] = weeks, lines
	}
	return res
}

// TestNoiseOfAMonthOfPruning is the noise month, before triage and after it, and its goals: each
// accident that is not routine announced within one scan of its deletion, naming who deleted it;
// the routine pruning at most one message a day a channel with digest, none with quiet. Under the
// race detector the month is 10 days (the goals are the same); NOISE_TABLE=1 prints the table
// docs/benchmarks.md quotes, from the 30-day month.
func TestNoiseOfAMonthOfPruning(t *testing.T) {
	days := 30
	if raceDetector {
		days = 10
	}
	results := map[string]*noiseResult{}
	var mu sync.Mutex
	for _, c := range []struct {
		name    string
		judge   bool
		routine string
	}{{"before", false, config.RoutineWarn}, {"digest", true, config.RoutineDigest}, {"quiet", true, config.RoutineQuiet}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := month(t, c.judge, c.routine, days)
			mu.Lock()
			results[c.name] = &r
			mu.Unlock()
		})
	}
	t.Cleanup(func() { checkNoise(t, results, days) })
}

func checkNoise(t *testing.T, results map[string]*noiseResult, days int) {
	if t.Failed() || len(results) != 3 {
		return
	}
	for _, name := range []string{"digest", "quiet"} {
		r := results[name]
		for _, a := range accidents(days) {
			first, ok := r.first[a.name]
			switch {
			case a.routine:
				if ok {
					t.Errorf("%s: the routine accident %q was announced on its own (%s)", name, a.name, first)
				}
			case !ok || first.Sub(a.at) > noiseScan:
				t.Errorf("%s: %q deleted %s, first announced %v: want within one scan", name, a.name, a.at, first)
			case !r.named[a.name]:
				t.Errorf("%s: the first message about %q does not say who deleted it", name, a.name)
			}
		}
		for ch, n := range r.routine {
			if name == "digest" && n > days || name == "quiet" && n > 0 {
				t.Errorf("%s, %s: %d messages about routine pruning in %d days", name, ch, n, days)
			}
		}
	}
	if before, after := results["before"].routine["slack"], results["digest"].routine["slack"]; before <= after {
		t.Errorf("before triage Slack got %d messages about routine pruning in %d days, the digest %d: the month is not the noise it measures", before, days, after)
	}
	if os.Getenv("NOISE_TABLE") == "" {
		return
	}
	fmt.Println("| configuration | channel | messages in weeks 1, 2, 3, 4 and days 29–30 (events in them) | messages about routine pruning, in all |")
	fmt.Println("|---|---|---|---|")
	for _, c := range []struct{ name, label string }{{"before", "before: every version alike"}, {"digest", "after: `notify.routine: digest`"}, {"quiet", "after: `notify.routine: quiet`"}} {
		r := results[c.name]
		for _, ch := range []string{"slack", "webhook"} {
			var weeks []string
			for i, n := range r.perWeek[ch] {
				weeks = append(weeks, fmt.Sprintf("%d (%d)", n, r.lines[ch][i]))
			}
			fmt.Printf("| %s | %s | %s | %d |\n", c.label, ch, strings.Join(weeks, ", "), r.routine[ch])
		}
	}
	for _, name := range []string{"before", "digest", "quiet"} {
		for _, a := range accidents(days) {
			if at, ok := results[name].first[a.name]; ok {
				fmt.Printf("%s: %q deleted %s, first named %s later (says who: %v)\n", name, a.name, a.at.Format("Jan 2 15:04"), at.Sub(a.at), results[name].named[a.name])
			} else {
				fmt.Printf("%s: %q deleted %s, never announced on its own\n", name, a.name, a.at.Format("Jan 2 15:04"))
			}
		}
	}
}
