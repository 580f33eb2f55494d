package scanner

import (
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultFullEvery is how often each image definition's recycle bin is listed in an incremental
// scan even when nothing says it changed.
const DefaultFullEvery = 6 * time.Hour

// binRecord is what an incremental scan remembers of one image definition's recycle bin.
type binRecord struct {
	live     uint64    // the names of its live versions, hashed, when the bin was listed
	listedAt time.Time // when it was listed, less its share of the reconcile spread
	due      time.Time // its binned versions' next deadline: list it again then
	versions []Version // what the bin held
}

// bins is the incremental scan's memory: per image definition (lower-cased id), its last
// listing. It lives as long as the Scanner; a restart starts with a full scan.
type bins struct {
	mu      sync.Mutex
	records map[string]*binRecord
}

// liveHash fingerprints an image definition's live versions: a version gone from it was deleted
// (into the bin), one back was recovered.
func liveHash(names []string) uint64 {
	sorted := make([]string, len(names))
	for i, n := range names {
		sorted[i] = strings.ToLower(n)
	}
	slices.Sort(sorted)
	h := fnv.New64a()
	for _, n := range sorted {
		h.Write([]byte(n))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// carried returns what the bin held when nothing says it changed since it was last listed: its
// live versions are the same, none of its binned versions has reached a deadline, and its
// reconcile is not due. Otherwise nil, false: list it; known says whether it was ever listed.
func (b *bins) carried(id string, live uint64, now time.Time, every time.Duration) (versions []Version, ok, known bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec := b.records[id]
	if rec == nil || rec.live != live || !now.Before(rec.due) || now.Sub(rec.listedAt) >= every {
		return nil, false, rec != nil
	}
	return rec.versions, true, true
}

// listed records a successful listing. ahead moves the bin's first reconcile that much closer:
// the bins first listed in one scan are given evenly spaced places in the period, so that each
// later scan reconciles its even share of them, not all of them at once a period later.
func (b *bins) listed(id string, live uint64, now time.Time, every, ahead time.Duration, versions []Version) {
	due := now.Add(every) // no deadline: the reconcile bounds it
	for _, v := range versions {
		if _, at := v.NextDeadline(now); at.After(now) && at.Before(due) {
			due = at
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records[id] = &binRecord{live: live, listedAt: now.Add(-ahead), due: due, versions: versions}
}

// forget drops an image definition's record, so that its next scan lists the bin: its listing
// failed, or it is gone.
func (b *bins) forget(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.records, id)
}

// keepOnly forgets every image definition not in ids.
func (b *bins) keepOnly(ids map[string]bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id := range b.records {
		if !ids[id] {
			delete(b.records, id)
		}
	}
}
