package scanner

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultFullEvery is how often each image definition's recycle bin is listed in an incremental
// scan even when nothing says it changed.
const DefaultFullEvery = 6 * time.Hour

// BinMemory keeps what incremental scans know of each recycle bin across restarts and reloads;
// the state file (notify.Store) is one. Records are opaque bytes, by lower-cased image
// definition id.
type BinMemory interface {
	LoadBins() (map[string][]byte, error)
	SaveBins(put map[string][]byte, drop []string) error
}

// binRecord is what an incremental scan remembers of one image definition's recycle bin.
type binRecord struct {
	Live     uint64    `json:"live"`     // the names of its live versions, hashed, when the bin was listed
	ListedAt time.Time `json:"listedAt"` // when it was listed, less its share of the reconcile spread
	Due      time.Time `json:"due"`      // its binned versions' next deadline: list it again then
	Versions []Version `json:"versions"` // what the bin held (tags are the definition's, set when carried)
}

// shareDefinition checks that each version of a decoded record names the image definition the
// record is kept under (lower-cased id), and points them all at one Definition, as a listing's
// share theirs. A record that fails is refused: carried, its versions would be announced under
// another image definition.
func (rec *binRecord) shareDefinition(id string) bool {
	for i := range rec.Versions {
		ref := rec.Versions[i].Ref()
		if !strings.EqualFold(ref.GalleryID()+"/images/"+ref.Image, id) {
			return false
		}
		rec.Versions[i].Definition = rec.Versions[0].Definition
	}
	return true
}

// bins is the incremental scan's memory: per image definition (lower-cased id), its last
// listing, and which records changed since they were last saved.
type bins struct {
	mu      sync.Mutex
	records map[string]*binRecord
	loaded  bool            // read from the BinMemory, if there is one
	changed map[string]bool // ids listed or forgotten since the last save
}

// load reads the records a BinMemory holds, once; a record it cannot read is left out, and so
// listed at the next scan.
func (b *bins) load(m BinMemory) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.loaded || m == nil {
		return nil
	}
	b.loaded = true
	saved, err := m.LoadBins()
	if err != nil {
		return err
	}
	var bad int
	for id, data := range saved {
		var rec binRecord
		if err := json.Unmarshal(data, &rec); err != nil || !rec.shareDefinition(id) {
			bad++
			continue
		}
		if b.records[id] == nil {
			b.records[id] = &rec
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d recycle-bin records in the state file could not be read; those bins are listed again", bad)
	}
	return nil
}

// save writes the records changed since the last save.
func (b *bins) save(m BinMemory) error {
	b.mu.Lock()
	put, drop := map[string][]byte{}, []string{}
	for id := range b.changed {
		rec := b.records[id]
		if rec == nil {
			drop = append(drop, id)
			continue
		}
		data, err := json.Marshal(rec)
		if err != nil {
			b.mu.Unlock()
			return err
		}
		put[id] = data
	}
	changed := b.changed
	b.changed = nil
	b.mu.Unlock()
	if len(put)+len(drop) == 0 {
		return nil
	}
	if err := m.SaveBins(put, drop); err != nil {
		b.mu.Lock()
		for id := range changed { // saved next time
			b.mark(id)
		}
		b.mu.Unlock()
		return err
	}
	return nil
}

// mark notes that id's record changed. Callers hold mu.
func (b *bins) mark(id string) {
	if b.changed == nil {
		b.changed = map[string]bool{}
	}
	b.changed[id] = true
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
	if rec == nil || rec.Live != live || !now.Before(rec.Due) || now.Sub(rec.ListedAt) >= every {
		return nil, false, rec != nil
	}
	return rec.Versions, true, true
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
	b.records[id] = &binRecord{Live: live, ListedAt: now.Add(-ahead), Due: due, Versions: versions}
	b.mark(id)
}

// forget drops an image definition's record, so that its next scan lists the bin: its listing
// failed, or it is gone.
func (b *bins) forget(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.records, id)
	b.mark(id)
}

// keepOnly forgets every image definition not in ids.
func (b *bins) keepOnly(ids map[string]bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id := range b.records {
		if !ids[id] {
			delete(b.records, id)
			b.mark(id)
		}
	}
}
