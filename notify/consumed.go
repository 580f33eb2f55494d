package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/scanner"
)

// AlertConsumedDeleted is the alert of a consumed-deleted event, as the shipped rules name it.
const AlertConsumedDeleted = "PurgewatchConsumedImageDeleted"

// consumedKey names one soft deletion of another publisher's version, where the workloads use
// it: deleted, recovered and deleted again is another.
func consumedKey(c scanner.ConsumedVersion) string {
	return "consumed:" + strings.ToLower(c.ID) + "@" + c.Location + "@" + c.ConsumptionEndsAt.UTC().Format(time.RFC3339)
}

// planConsumed is the plan for other publishers' versions the workloads use that their publisher
// soft-deleted (snap.Consumed, from the audit): every channel is told once of each, in one
// message, with the workloads and when scale-outs start to fail. Alertmanager gets the alerts
// again each scan while they hold.
func planConsumed(l Ledger, s Settings, snap *scanner.Snapshot) (plan, error) {
	p := plan{active: map[string][]Event{}, source: sourceConsumed}
	if snap == nil || len(snap.Consumed) == 0 {
		return p, nil // and the alerts of those no longer deleted are resent no more
	}
	events := make([]Event, 0, len(snap.Consumed))
	for i := range snap.Consumed {
		c := snap.Consumed[i]
		// Critical always: nothing this estate does brings it back, and its workloads break.
		events = append(events, Event{ID: eventID(consumedKey(c), KindConsumedDeleted, 0), Kind: KindConsumedDeleted,
			Severity: severityCritical, Consumed: &c, Workloads: c.Workloads})
	}
	for _, ch := range s.Channels {
		name := ch.Name()
		logged, err := l.Logged(name, keys(events))
		if err != nil {
			return p, err
		}
		var fresh []Event
		for _, e := range events {
			if !logged[e.ID] {
				fresh = append(fresh, e)
			} else if resendsActive(ch) {
				p.active[name] = append(p.active[name], e)
			}
		}
		if len(fresh) > 0 {
			p.batches = append(p.batches, queued{channel: name, messages: split(fresh, ch.MaxEvents())})
		}
	}
	return p, nil
}

// consumedText is a consumed-deleted event in words, the same on every channel: which version,
// from whose gallery, when new VMs and scale-outs from it fail, what uses it, and what to do.
func consumedText(now time.Time, e Event) string {
	c := e.Consumed
	if c == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s/%s, from a %s gallery (%s), ", c.Gallery, c.Image, c.Version, c.Kind, c.Location)
	switch at := c.ConsumptionEndsAt.UTC().Format("2006-01-02 15:04 UTC"); {
	case c.State == scanner.StateNotFound:
		b.WriteString("is no longer there (purged, or no longer shared with you): new VMs and scale-outs from it fail now")
	case c.ConsumptionEndsAt.IsZero():
		b.WriteString("was soft-deleted by its publisher: new VMs and scale-outs from it may fail at any time (Azure does not say when)")
	case c.ConsumptionEndsAt.After(now):
		fmt.Fprintf(&b, "was soft-deleted by its publisher: new VMs and scale-outs from it fail in %s (%s)", humantime.Short(c.ConsumptionEndsAt.Sub(now)), at)
	default:
		b.WriteString("was soft-deleted by its publisher: new VMs and scale-outs from it fail since " + at)
	}
	if len(c.Workloads) > 0 {
		fmt.Fprintf(&b, ". Used by %s", strings.Join(c.Workloads, ", "))
	}
	b.WriteString(". Only its publisher can bring it back: ask them to, or move these workloads to another image version.")
	return b.String()
}

// consumedAlert is a consumed-deleted event as the shipped rule's alert: the labels of
// purgewatch_consumed_image_version_consumption_end_timestamp_seconds, critical (nothing this
// estate does recovers it).
func consumedAlert(e Event, m Message, starts, ends time.Time) postableAlert {
	c := e.Consumed
	ann := map[string]string{
		"summary":     fmt.Sprintf("Image version %s/%s/%s, from a %s gallery, was deleted by its publisher", c.Gallery, c.Image, c.Version, c.Kind),
		"description": consumedText(m.Now, e),
		"image_id":    c.ID,
		"workloads":   strings.Join(c.Workloads, ", "),
		"runbook_url": runbook(AlertConsumedDeleted),
	}
	if !c.ConsumptionEndsAt.IsZero() {
		ann["consumption_end"] = c.ConsumptionEndsAt.UTC().Format(time.RFC3339)
	}
	return postableAlert{Labels: map[string]string{"alertname": AlertConsumedDeleted, "severity": "critical", "kind": c.Kind,
		"gallery": c.Gallery, "image": c.Image, "version": c.Version, "location": c.Location},
		Annotations: ann, StartsAt: starts.UTC(), EndsAt: ends.UTC(), GeneratorURL: statusPage(m.ExternalURL, nil)}
}
