package notify

import (
	"time"

	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/scanner"
)

// Preview is one message a channel would be sent.
type Preview struct {
	Channel Channel
	Events  int
	Rendered
}

// PreviewAll renders what each channel would be sent for snap now: every stage but enqueue and
// deliver, deduplicated against l, the state file's log (nil: as if nothing had been sent yet).
// Nothing is sent or recorded.
func PreviewAll(snap *scanner.Snapshot, users map[string][]scanner.Workload, s Settings, now time.Time, l Ledger, silences []silence.Silence) ([]Preview, error) {
	if l == nil {
		l = emptyLog{}
	}
	seen := newPresence(snap)
	opens, err := readOpens(l, s.Channels, seen)
	if err != nil {
		return nil, err
	}
	m := newMute(silences, snap, nil, now)
	p, err := makePlan(l, s, snap, seen, opens, users, nil, m, nil, now)
	if err != nil {
		return nil, err
	}
	digest, err := planDigest(l, s, snap, m, now)
	if err != nil {
		return nil, err
	}
	p.batches = append(p.batches, digest.batches...)
	var out []Preview
	for _, q := range p.batches {
		var ch Channel
		for _, c := range s.Channels {
			if c.Name() == q.channel {
				ch = c
			}
		}
		for _, part := range q.messages {
			rendered, err := ch.Render(Message{Channel: ch.Name(), Events: part, Now: now, ARMEndpoint: s.ARMEndpoint, ExternalURL: s.ExternalURL})
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
		Definition: &scanner.Definition{SubscriptionID: "00000000-0000-0000-0000-000000000000", ResourceGroup: "purgewatch-test",
			Gallery: "purgewatch_test", Image: "test-image"},
		Version: "0.0.1", Location: "westeurope", SoftDeletedAt: now.Add(-6 * 24 * time.Hour),
		ConsumptionEndsAt: now.Add(24 * time.Hour), PurgeAt: now.Add(24 * time.Hour), PurgeAtSource: scanner.SourceComputed,
	}
	return Event{ID: "purgewatch-test-" + now.UTC().Format("20060102T150405"), Kind: KindExpiring, Threshold: 24 * time.Hour,
		Version: v, Since: now, Severity: "critical", Test: true}
}
