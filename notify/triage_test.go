package notify

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// judged is v with triage's verdict: the reasons it is not routine, none when it is.
func judged(v scanner.Version, reasons ...string) scanner.Version {
	v.Triage = append([]string{}, reasons...)
	return v
}

// heard is what r received, as kinds writes it.
func heard(t *testing.T, r *receiver) []string { return kinds(r.webhookEvents(t)) }

// TestAVersionNotRoutineIsAnnouncedAtFirstSight: the deletion of a version nobody superseded is
// told within the scan that first sees it, days before its first threshold, and once; the
// thresholds follow as before.
func TestAVersionNotRoutineIsAnnouncedAtFirstSight(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	v := judged(ver("g", "1.2.0", t0.Add(160*time.Hour), 0, nil), "newest")
	h.scan(snapshot(t0, v), nil)
	h.clock.Advance(15 * time.Minute)
	h.scan(snapshot(h.clock.Now(), v), nil)
	if got := heard(t, rx); !slices.Equal(got, []string{"1.2.0/deleted"}) {
		t.Fatalf("after two scans: %v, want one deleted event", got)
	}
	e := rx.webhookEvents(t)[0]
	if e.Version.Routine == nil || *e.Version.Routine || !slices.Equal(*e.Version.Reasons, []string{"newest"}) {
		t.Errorf("the webhook's version says routine %v reasons %v, want false [newest]", e.Version.Routine, e.Version.Reasons)
	}
	h.clock.Set(t0.Add(89 * time.Hour)) // 71h left
	h.scan(snapshot(h.clock.Now(), v), nil)
	if got := heard(t, rx); !slices.Equal(got, []string{"1.2.0/deleted", "1.2.0/expiring72h"}) {
		t.Errorf("at 71h left: %v, want the 72h warning after the deletion", got)
	}
}

// TestADeletedEventCoversTheThresholdsAlreadyCrossed: a version first seen 20h before its purge
// is one line (deleted, with its deadline), not a deletion and a 24h warning, then or at the next
// scan; the 6h warning still comes.
func TestADeletedEventCoversTheThresholdsAlreadyCrossed(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	v := judged(ver("g", "1.0.0", t0.Add(20*time.Hour), 0, nil), "in-use")
	h.scan(snapshot(t0, v), nil)
	if n := len(rx.received()); n != 1 {
		t.Fatalf("%d messages at first sight, want 1", n)
	}
	h.clock.Advance(15 * time.Minute)
	h.scan(snapshot(h.clock.Now(), v), nil)
	h.clock.Set(t0.Add(15 * time.Hour)) // 5h left
	h.scan(snapshot(h.clock.Now(), v), nil)
	if got := heard(t, rx); !slices.Equal(got, []string{"1.0.0/deleted", "1.0.0/expiring6h"}) {
		t.Errorf("events %v, want the deletion, then only the 6h warning", got)
	}
	users := map[string][]scanner.Workload{strings.ToLower(v.ID()): {{Kind: "vmss", ID: "/x/api"}}}
	for _, e := range due(snapshot(t0, v), users, t0, thresholds, config.RoutineDigest) {
		if e.Severity != "critical" {
			t.Errorf("%s of a version in use: severity %s, want critical", e.Kind, e.Severity)
		}
	}
}

// TestRoutineVersionsFollowNotifyRoutine: a pipeline's pruning is never critical, and with
// digest or quiet it sends nothing version by version; what is not routine is told regardless.
func TestRoutineVersionsFollowNotifyRoutine(t *testing.T) {
	pruned := judged(ver("g", "1.0.0", t0.Add(20*time.Hour), 0, nil))
	mistake := judged(ver("g", "2.0.0", t0.Add(100*time.Hour), 0, nil), "newest")
	for mode, want := range map[string][]string{
		config.RoutineWarn:   {"1.0.0/expiring24h", "2.0.0/deleted"},
		config.RoutineDigest: {"2.0.0/deleted"},
		config.RoutineQuiet:  {"2.0.0/deleted"},
	} {
		t.Run(mode, func(t *testing.T) {
			rx := newReceiver(t)
			h := newHarness(t, webhookChannel("hook", rx.srv.URL))
			s := h.n.current()
			s.Routine = mode
			h.n.Configure(s)
			h.scan(snapshot(t0, pruned, mistake), nil)
			if got := heard(t, rx); !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
		})
	}
	for _, e := range due(snapshot(t0, pruned), nil, t0, thresholds, config.RoutineWarn) {
		if e.Severity != "warning" {
			t.Errorf("a routine version 20h before its purge: %s is %s, want warning", e.Kind, e.Severity)
		}
	}
}

// TestARouteMatchesTheVerdict: match {routine: false} sends what is not routine to the pager
// alone; the rest goes where no route names.
func TestARouteMatchesTheVerdict(t *testing.T) {
	all, pager := newReceiver(t), newReceiver(t)
	h := newHarness(t, webhookChannel("all", all.srv.URL), webhookChannel("pager", pager.srv.URL))
	no := false
	s := h.n.current()
	s.Routine, s.Routes = config.RoutineWarn, []config.Route{{Match: config.Match{Routine: &no}, Channels: []string{"pager"}}}
	h.n.Configure(s)
	h.scan(snapshot(t0, judged(ver("g", "1.0.0", t0.Add(20*time.Hour), 0, nil)),
		judged(ver("g", "2.0.0", t0.Add(100*time.Hour), 0, nil), "last-version")), nil)
	if got := heard(t, pager); !slices.Equal(got, []string{"2.0.0/deleted"}) {
		t.Errorf("pager heard %v, want only the version that is not routine", got)
	}
	if got := heard(t, all); !slices.Equal(got, []string{"1.0.0/expiring24h", "2.0.0/deleted"}) {
		t.Errorf("the channel no route names heard %v, want both", got)
	}
}

// TestEveryChannelSaysWhyADeletionLooksWrong reads the rendered message of each chat and the
// e-mail: who reads it learns what was deleted, why it is not routine, what uses it, its
// deadlines and how to recover it, with the version named once.
func TestEveryChannelSaysWhyADeletionLooksWrong(t *testing.T) {
	v := judged(ver("prodimages", "1.2.0", t0.Add(50*time.Hour), 2, nil), "in-use", "newest") // unusable in 2h
	e := due(snapshot(t0, v), map[string][]scanner.Workload{strings.ToLower(v.ID()): {{Kind: "vmss", ID: "/x/api"}}},
		t0, thresholds, config.RoutineDigest)
	e = fold(e, nil)
	if len(e) != 1 || e[0].Kind != KindDeleted {
		t.Fatalf("events %+v, want the deletion alone", e)
	}
	for typ, want := range map[string][]string{
		config.ChannelSlack: {"1 soft-deleted image version needs attention: 1 not routine, first unusable in 2h 0m", "*deleted, and not routine*",
			"VMs or scale sets still use it; no newer version replaced it", "fail in *2h 0m*", "scale set api", "recover: `az rest"},
		config.ChannelTeams: {"**Deleted, and not routine**", "VMs or scale sets still use it; no newer version replaced it", "fail in **2h 0m**", "Recover: az rest"},
		config.ChannelEmail: {"[purgewatch] 1 soft-deleted image version needs attention: 1 not routine, first unusable in 2h 0m",
			"DELETED, AND NOT ROUTINE: prodimages/img/1.2.0: VMs or scale sets still use it; no newer version replaced it", "still used by: scale set api"},
	} {
		text := readAs(t, typ, e)
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", typ, w, text)
			}
		}
		if n := strings.Count(text, "prodimages/img/1.2.0"); n > 2 { // the line, and e-mail's HTML part
			t.Errorf("%s names the version %d times:\n%s", typ, n, text)
		}
	}
}

// readAs renders events as a channel of type typ would send them, and returns the text a person
// reads: the subject or title, then the body (an e-mail's decoded, a chat's JSON unescaped).
func readAs(t *testing.T, typ string, events []Event) string {
	t.Helper()
	ch, err := NewChannel(config.Channel{Name: typ, Type: typ, WebhookURL: "https://hooks.example/x", From: "a@example.com",
		To: []string{"b@example.com"}, SMTP: config.SMTP{Host: "smtp.example.com", Port: 25}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ch.Render(Message{Events: events, Now: t0, ARMEndpoint: "https://management.azure.com"})
	if err != nil {
		t.Fatal(err)
	}
	if typ == config.ChannelEmail {
		plain, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(r.Body)))
		return r.Subject + "\n" + string(plain)
	}
	var decoded any // JSON escapes & < > and newlines; read the text as the chat does
	if err := json.Unmarshal(r.Body, &decoded); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	data, _ := json.Marshal(decoded)
	return r.Subject + "\n" + strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\n`, "\n").Replace(string(data))
}
