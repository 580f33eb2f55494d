package notify

import (
	"slices"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// KindDigest is the routine digest (notify.routine: digest): once per notify.digestSchedule time,
// one message per channel listing the routine versions pruned since the previous time and those
// purged before the next. It is about no one version and opens nothing.
const KindDigest Kind = "digest"

// digestListed bounds the versions a digest names per list; the counts are whole. A pipeline
// pruning thousands a day gets a digest a person reads, not one a receiver refuses.
const digestListed = 20

// Digest is a digest event's content. Pruned are the routine versions soft-deleted in
// [Since, Until); Purging the routine versions whose purge falls before Next, the time of the
// next digest. Each list is soonest purge first.
type Digest struct {
	Since   time.Time   `json:"since"`
	Until   time.Time   `json:"until"`
	Next    time.Time   `json:"next"`
	Pruned  DigestCount `json:"pruned"`
	Purging DigestCount `json:"purging"`
	// Retained is what the versions listed keep billed, as far as purgewatch saw them live;
	// PricePerGBMonth is metrics.storagePricePerGBMonth (0: no estimate).
	Retained        int64   `json:"retainedBytes,omitempty"`
	PricePerGBMonth float64 `json:"pricePerGBMonth,omitempty"`
}

// Cost is the digest's estimate a month of what it lists keeps billed; 0 without a price.
func (d *Digest) Cost() float64 { return float64(d.Retained) / (1 << 30) * d.PricePerGBMonth }

// DigestCount is one list of a digest: how many, and the first digestListed of them.
type DigestCount struct {
	Count    int               `json:"count"`
	Versions []scanner.Version `json:"versions,omitempty"`
}

func (c *DigestCount) add(v scanner.Version) {
	c.Count++
	c.Versions = append(c.Versions, v)
}

// trim keeps the digestListed soonest purges.
func (c *DigestCount) trim() {
	slices.SortFunc(c.Versions, func(a, b scanner.Version) int { return a.PurgeAt.Compare(b.PurgeAt) })
	c.Versions = slices.Clip(c.Versions[:min(len(c.Versions), digestListed)])
}

// planDigest is the digest's plan: when a notify.digestSchedule time has passed that a channel
// was not sent the digest of, that channel gets it, with the first scan at or after the time
// (so it comes at most one scan interval late, and a purgewatch that was down sends it when it
// is back). The event's id names the time, so the log sends each digest once, across restarts.
// A channel with nothing routine to hear of gets no message. Alertmanager is not sent digests:
// a summary is not an alert.
func planDigest(l Ledger, s Settings, snap *scanner.Snapshot, m *mute, now time.Time) (plan, error) {
	p := plan{}
	sched := s.Digest
	if s.Routine != config.RoutineDigest || sched == nil || snap == nil {
		return p, nil
	}
	until := lastFire(sched, now.UTC())
	if until.IsZero() {
		return p, nil
	}
	since := lastFire(sched, until.Add(-time.Second))
	if since.IsZero() {
		since = until.Add(-24 * time.Hour)
	}
	next := sched.Next(now.UTC())
	r := router{routes: s.Routes, all: channelNames(s.Channels)}
	id := eventID("digest@"+until.Format(time.RFC3339), KindDigest, 0)
	for _, ch := range s.Channels {
		if resendsActive(ch) {
			continue
		}
		d := digestFor(snap, r, m, ch.Name(), since, until, next)
		d.PricePerGBMonth = s.StoragePrice
		if d.Pruned.Count+d.Purging.Count == 0 {
			continue
		}
		e := Event{ID: id, Kind: KindDigest, Severity: "info", Since: until, Digest: &d}
		logged, err := l.Logged(ch.Name(), keys([]Event{e}))
		if err != nil {
			return p, err
		}
		if !logged[id] {
			p.batches = append(p.batches, queued{channel: ch.Name(), messages: [][]Event{{e}}})
		}
	}
	return p, nil
}

// digestFor is one channel's digest: the routine versions its routes send it, but those a
// silence mutes.
func digestFor(snap *scanner.Snapshot, r router, m *mute, channel string, since, until, next time.Time) Digest {
	d := Digest{Since: since, Until: until, Next: next}
	for _, v := range snap.Versions {
		if v.Triage == nil || !v.Routine() || m.of(v) != nil {
			continue
		}
		pruned := !v.SoftDeletedAt.Before(since) && v.SoftDeletedAt.Before(until)
		purging := v.PurgeAt.Before(next)
		if !pruned && !purging {
			continue
		}
		if len(r.routes) > 0 && !slices.Contains(r.channels(v), channel) {
			continue
		}
		d.Retained += v.RetainedBytes
		if pruned {
			d.Pruned.add(v)
		}
		if purging {
			d.Purging.add(v)
		}
		if len(d.Pruned.Versions) > 4*digestListed || len(d.Purging.Versions) > 4*digestListed {
			d.Pruned.trim() // bounded as it grows: 100,000 routine versions are not copied
			d.Purging.trim()
		}
	}
	d.Pruned.trim()
	d.Purging.trim()
	return d
}

// lastFire is the latest time sched names at or before now, or zero when there is none in the
// past year. cron only steps forward, so it steps from ever further back.
func lastFire(sched cron.Schedule, now time.Time) time.Time {
	for _, back := range []time.Duration{time.Hour, 25 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour} {
		t := sched.Next(now.Add(-back))
		if t.IsZero() || t.After(now) {
			continue
		}
		for {
			n := sched.Next(t)
			if n.IsZero() || n.After(now) {
				return t
			}
			t = n
		}
	}
	return time.Time{}
}
