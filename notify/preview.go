package notify

import (
	"slices"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// Preview is one message a channel would be sent.
type Preview struct {
	Channel Channel
	Events  int
	Rendered
}

// PreviewAll renders what each channel would receive for snap if it had been told nothing yet,
// without sending or recording anything.
func PreviewAll(snap *scanner.Snapshot, s Settings, now time.Time) ([]Preview, error) {
	names := make([]string, len(s.Channels))
	for i, ch := range s.Channels {
		names[i] = ch.Name()
	}
	r := router{routes: s.Routes, all: names}
	events := due(snap, now, s.Thresholds)
	var out []Preview
	for _, ch := range s.Channels {
		var mine []Event
		for _, e := range events {
			if slices.Contains(r.channels(e.Version), ch.Name()) {
				e.Since = now
				mine = append(mine, e)
			}
		}
		sortEvents(mine)
		for _, part := range split(mine, ch.MaxEvents()) {
			rendered, err := ch.Render(Message{Channel: ch.Name(), Events: part, Now: now, ARMEndpoint: s.ARMEndpoint})
			if err != nil {
				return nil, err
			}
			out = append(out, Preview{Channel: ch, Events: len(part), Rendered: rendered})
		}
	}
	return out, nil
}

// Sample is the event `notify test` sends: a made-up version, clearly labelled as a test.
func Sample(now time.Time) Event {
	v := scanner.Version{
		ID:             "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/purgewatch-test/providers/Microsoft.Compute/galleries/purgewatch_test/images/test-image/versions/0.0.1",
		SubscriptionID: "00000000-0000-0000-0000-000000000000", ResourceGroup: "purgewatch-test", Gallery: "purgewatch_test",
		Image: "test-image", Version: "0.0.1", Location: "westeurope", SoftDeletedAt: now.Add(-6 * 24 * time.Hour),
		ConsumptionEndsAt: now.Add(24 * time.Hour), PurgeAt: now.Add(24 * time.Hour), PurgeAtSource: scanner.SourceComputed,
	}
	return Event{ID: "purgewatch-test-" + now.UTC().Format("20060102T150405"), Kind: KindExpiring, Threshold: 24 * time.Hour,
		Version: v, Since: now, Severity: "critical"}
}
