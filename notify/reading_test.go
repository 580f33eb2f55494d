package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/scanner"
)

// people are the channel types a person reads.
var people = []string{config.ChannelSlack, config.ChannelTeams, config.ChannelEmail}

// TestAnOverdueVersionReadsAsOverdue: a version still listed past its purge time (Azure purges
// late) is "purge overdue by 25m" on every channel, never "purged in overdue 25m", and the headline
// names no "first purged" deadline that has passed.
func TestAnOverdueVersionReadsAsOverdue(t *testing.T) {
	e := due(snapshot(t0, ver("g", "1.0.0", t0.Add(-25*time.Minute), 0, nil)), nil, t0, thresholds, config.RoutineWarn)
	for _, typ := range people {
		text := readAs(t, typ, e)
		if !strings.Contains(text, "purge overdue by 25m") || !strings.Contains(strings.ToLower(text), "overdue, not yet purged") {
			t.Errorf("%s does not say the purge is overdue:\n%s", typ, text)
		}
		for _, wrong := range []string{"in overdue", "first purged", "expiring (6h)", "EXPIRING"} {
			if strings.Contains(text, wrong) {
				t.Errorf("%s says %q of an overdue version:\n%s", typ, wrong, text)
			}
		}
	}
}

// TestAVersionIsListedOnceInAMessage: a version due an event for its consumption end and another
// for its purge in the same message is one line, the one that names both deadlines; the
// headline and the body count it once.
func TestAVersionIsListedOnceInAMessage(t *testing.T) {
	v := ver("g", "1.0.0", t0.Add(60*time.Hour), 2, nil) // unusable in 12h, purged in 2d 12h
	e := due(snapshot(t0, v), nil, t0, thresholds, config.RoutineWarn)
	if len(e) != 2 {
		t.Fatalf("due %d events, want one per deadline", len(e))
	}
	for _, typ := range people {
		text := readAs(t, typ, e)
		lines := strings.Count(text, "g/img/1.0.0")
		if typ == config.ChannelEmail && strings.Count(text, "g/img/<strong>1.0.0</strong>") != 1 { // the HTML part
			lines = -1
		}
		if lines != 1 {
			t.Errorf("%s lists the version %d times:\n%s", typ, lines, text)
		}
		if !strings.Contains(text, "1 soft-deleted image version needs attention") || !strings.Contains(text, "purged 2026-11-29 24:00 UTC") &&
			!strings.Contains(text, "purged 2026-11-30 00:00 UTC") {
			t.Errorf("%s does not count it once, or its line does not name the purge:\n%s", typ, text)
		}
	}
}

// TestSlackMarksHowUrgentAnExpiringVersionIs: :warning: while more than a day is left,
// :rotating_light: within a day, :skull: once overdue, not one mark for all three.
func TestSlackMarksHowUrgentAnExpiringVersionIs(t *testing.T) {
	for left, mark := range map[time.Duration]string{60 * time.Hour: ":warning:", 20 * time.Hour: ":rotating_light:", -time.Hour: ":skull:"} {
		text := readAs(t, config.ChannelSlack, due(snapshot(t0, ver("g", "1.0.0", t0.Add(left), 0, nil)), nil, t0, thresholds, config.RoutineWarn))
		for _, m := range []string{":warning:", ":rotating_light:", ":skull:"} {
			if strings.Contains(text, m) != (m == mark) {
				t.Errorf("%v left: mark %s is %v, want only %s:\n%s", left, m, strings.Contains(text, m), mark, text)
			}
		}
	}
}

// TestTheSampleSaysItIsATest: what `purgewatch notify test` sends reads as a test on every
// channel, in the subject a phone shows first and in the body; Alertmanager's alert carries a
// test label a route can drop, and a webhook a test member.
func TestTheSampleSaysItIsATest(t *testing.T) {
	e := []Event{Sample(t0)}
	for _, typ := range people {
		text := readAs(t, typ, e)
		subject, body, _ := strings.Cut(text, "\n")
		if !strings.HasPrefix(subject, "TEST") && !strings.HasPrefix(subject, "[purgewatch] TEST") {
			t.Errorf("%s subject %q does not start by saying it is a test", typ, subject)
		}
		if !strings.Contains(body, "purgewatch notify test") || !strings.Contains(body, "made-up version") {
			t.Errorf("%s body does not say it is a sample:\n%s", typ, body)
		}
	}
	am := &alertmanager{lead: time.Hour}
	for _, a := range am.alerts(Message{Events: e, Now: t0}) {
		if a.Labels["test"] != "true" || !strings.HasPrefix(a.Annotations["summary"], "TEST") {
			t.Errorf("alert %v %v is not marked as a test", a.Labels, a.Annotations["summary"])
		}
	}
	if w := webhookEvent(e[0], Message{Now: t0}); !w.Test {
		t.Error("the webhook event has no test member")
	}
	if real := due(snapshot(t0, ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)), nil, t0, thresholds, config.RoutineWarn); strings.Contains(readAs(t, config.ChannelSlack, real), "TEST") {
		t.Error("a real warning says TEST")
	}
}

// TestEveryChannelCountsAlike: Slack's title, Teams' and the e-mail's subject are one headline,
// counting versions (one with two deadlines is one), not events.
func TestEveryChannelCountsAlike(t *testing.T) {
	e := due(snapshot(t0, ver("g", "1.0.0", t0.Add(60*time.Hour), 2, nil), ver("g", "1.1.0", t0.Add(-time.Hour), 2, nil),
		judged(ver("g", "2.0.0", t0.Add(100*time.Hour), 0, nil), "newest")), nil, t0, thresholds, config.RoutineWarn)
	want := "3 soft-deleted image versions need attention: 1 not routine, 1 overdue, first unusable in 12h 0m"
	for _, typ := range people {
		subject, _, _ := strings.Cut(readAs(t, typ, e), "\n")
		if !strings.HasPrefix(strings.TrimPrefix(subject, "[purgewatch] "), want) {
			t.Errorf("%s headline %q, want it to start %q", typ, subject, want)
		}
	}
}

// TestEveryChannelSaysWhoDeletedIt: the deleted event, and every later one, names who deleted the
// version, from where and how long ago; or, when the Activity Log does not say, that it is not
// known and why.
func TestEveryChannelSaysWhoDeletedIt(t *testing.T) {
	v := judged(ver("prodimages", "1.2.0", t0.Add(100*time.Hour), 0, nil), "newest")
	v.DeletedBy = &scanner.Deletion{Caller: "alice@contoso.com", PrincipalName: "alice@contoso.com", PrincipalType: "User",
		ClientIP: "203.0.113.7", At: t0.Add(-2 * time.Hour)}
	unknown := judged(ver("prodimages", "1.3.0", t0.Add(100*time.Hour), 0, nil), "newest")
	unknown.DeletedByUnknown = deleters.NoEntry
	e := due(snapshot(t0, v, unknown), nil, t0, thresholds, config.RoutineDigest)
	for _, typ := range people {
		text := readAs(t, typ, e)
		for _, want := range []string{"deleted by alice@contoso.com from 203.0.113.7, 2h 0m ago", "who by is not known: " + deleters.NoEntry} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", typ, want, text)
			}
		}
	}
	am := &alertmanager{lead: time.Hour}
	if a := am.alerts(Message{Events: e[:1], Now: t0}); a[0].Annotations["deleted_by"] != "deleted by alice@contoso.com from 203.0.113.7, 2h 0m ago" {
		t.Errorf("Alertmanager's annotation: %q", a[0].Annotations["deleted_by"])
	}
	if w := webhookEvent(e[0], Message{Now: t0}); w.Version.DeletedBy == nil || w.Version.DeletedBy.ClientIP != "203.0.113.7" {
		t.Errorf("the webhook's version has deletedBy %+v", w.Version.DeletedBy)
	}
}

// TestEveryChannelSaysWhatAVersionKeepsBilled: a version purgewatch saw live says what its
// replicas keep billed until the purge; one it did not, nothing.
func TestEveryChannelSaysWhatAVersionKeepsBilled(t *testing.T) {
	v := judged(ver("prodimages", "1.2.0", t0.Add(100*time.Hour), 0, nil), "newest")
	v.RetainedBytes = 260 << 30
	unknown := judged(ver("prodimages", "1.3.0", t0.Add(100*time.Hour), 0, nil), "newest")
	for _, typ := range people {
		text := readAs(t, typ, due(snapshot(t0, v), nil, t0, thresholds, config.RoutineDigest))
		if !strings.Contains(text, "keeps 260 GiB of replicas billed until the purge") {
			t.Errorf("%s does not say what the version keeps billed:\n%s", typ, text)
		}
		if text := readAs(t, typ, due(snapshot(t0, unknown), nil, t0, thresholds, config.RoutineDigest)); strings.Contains(text, "billed") {
			t.Errorf("%s guesses what a version it never saw live keeps:\n%s", typ, text)
		}
	}
}

// TestLearningTheDeleterMakesNoSecondAlert: the Activity Log names the deleter minutes after the
// deletion, and a failed audit adds unknown-usage; the deleted alert keeps its labels (one
// alert, one page), and says who and why in its annotations.
func TestLearningTheDeleterMakesNoSecondAlert(t *testing.T) {
	v := judged(ver("prodimages", "1.2.0", t0.Add(100*time.Hour), 0, nil), "newest")
	am := &alertmanager{lead: time.Hour}
	before := am.alerts(Message{Events: due(snapshot(t0, v), nil, t0, thresholds, config.RoutineDigest), Now: t0})
	v.DeletedBy = &scanner.Deletion{Caller: "alice@contoso.com", PrincipalName: "alice@contoso.com"}
	v.Triage = []string{"newest", "unknown-usage"}
	after := am.alerts(Message{Events: due(snapshot(t0, v), nil, t0, thresholds, config.RoutineDigest), Now: t0})
	if len(before) != 1 || len(after) != 1 || fmt.Sprint(before[0].Labels) != fmt.Sprint(after[0].Labels) {
		t.Errorf("labels before %v, after %v: Alertmanager would hold two alerts", before[0].Labels, after[0].Labels)
	}
	if !strings.Contains(after[0].Annotations["deleted_by"], "alice@contoso.com") || after[0].Annotations["reasons"] != "newest,unknown-usage" ||
		!strings.Contains(after[0].Annotations["summary"], "no newer version replaced it") {
		t.Errorf("annotation deleted_by = %q", after[0].Annotations["deleted_by"])
	}
}
