package notify

import (
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// An e-mail's subject counts versions, not events, and reads as a person would say it.
func TestTheEmailSubjectCountsVersionsAndReadsNaturally(t *testing.T) {
	tmpl, err := loadTemplates("email", "")
	if err != nil {
		t.Fatal(err)
	}
	grace := ver("g", "1.0.0", t0.Add(50*time.Hour), 2, nil) // unusable in 2h, purged in 50h
	overdue := ver("g", "0.9.0", t0.Add(-25*time.Minute), 0, nil)
	late := ver("g", "2.0.0", t0.Add(30*time.Hour), 0, nil)
	expiring := func(v scanner.Version, d scanner.Deadline) Event {
		return Event{Kind: KindExpiring, Deadline: d, Threshold: 72 * time.Hour, Version: v}
	}
	for _, c := range []struct {
		events []Event
		want   string
	}{
		{[]Event{expiring(grace, scanner.DeadlineConsumptionEnd), expiring(grace, scanner.DeadlinePurge)},
			"[purgewatch] 1 soft-deleted image version needs attention: first unusable in 2h 0m (2026-11-27 14:00 UTC)"},
		{[]Event{expiring(overdue, scanner.DeadlinePurge), expiring(late, scanner.DeadlinePurge)},
			"[purgewatch] 2 soft-deleted image versions need attention: 1 overdue, first purged in 1d 6h (2026-11-28 18:00 UTC)"},
		{[]Event{expiring(overdue, scanner.DeadlinePurge), {Kind: KindResolved, Reason: ReasonGone, Version: late}},
			"[purgewatch] 1 soft-deleted image version needs attention: 1 overdue; 1 resolved"},
	} {
		got, err := tmpl.render("subject", newMessageData(Message{Events: c.events, Now: t0}))
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("subject\n  %q\nwant\n  %q", got, c.want)
		}
	}
}
