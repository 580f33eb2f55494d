package notify

import (
	"slices"
	"time"

	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/scanner"
)

// listed is a message's events as a person reads them: each version once. A version can be due
// two events in one message (its consumption end and its purge, a threshold and unusable); the
// one kept says the most (a deleted event names both deadlines, unusable and an expiring event
// about the consumption end name the purge as well), and the others are delivered and recorded
// all the same, only not written out twice. Events about no version of the estate (a scan, the
// digest, another publisher's version) stay.
func listed(events []Event) []Event {
	out := make([]Event, 0, len(events))
	at := map[string]int{}
	for _, e := range events {
		if e.Scan != nil || e.Digest != nil || e.Consumed != nil {
			out = append(out, e)
			continue
		}
		key := e.vkey()
		i, ok := at[key]
		if !ok {
			at[key] = len(out)
			out = append(out, e)
			continue
		}
		if says(e) > says(out[i]) {
			out[i] = e
		}
	}
	return out
}

// says ranks how much of a version's state an event's line names.
func says(e Event) int {
	rank := 2 * slices.Index([]Kind{KindResolved, KindExpiring, KindUnusable, KindDeleted}, e.Kind)
	if e.Deadline == scanner.DeadlineConsumptionEnd {
		rank++
	}
	return rank
}

// purged is when the purge falls, in words: "purged in 3h 12m", or, for a version still listed
// past its purge time (Azure purges late), "purge overdue by 25m".
func purged(now, at time.Time) string {
	if d := at.Sub(now); d > 0 {
		return "purged in " + humantime.Short(d)
	}
	return "purge overdue by " + humantime.Short(now.Sub(at))
}
