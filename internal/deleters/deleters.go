// Package deleters finds who deleted each soft-deleted version, in the Azure Activity Log, and
// remembers it. Its cost grows with subscriptions, not versions: one paged query a subscription a
// scan, only while a version of it waits for its answer, for the deletions since the earliest
// such version. Not knowing is a value, never an error: a version whose deletion the log does
// not hold (older than the 90 days it keeps, or not written yet: it trails by minutes), or whose
// subscription's log could not be read, carries why instead.
package deleters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/scanner"
)

// Source reads the Activity Log; *scanner.Scanner in production.
type Source interface {
	Deletions(ctx context.Context, since map[string]time.Time, until time.Time) (map[string][]scanner.Deletion, map[string]scanner.ScopeError)
}

// Store keeps what was found across restarts: the state file.
type Store interface {
	LoadDeleters() (map[string][]byte, error)
	SaveDeleters(put map[string][]byte, drop []string) error
}

const (
	// Keeps is how far back the Activity Log goes.
	Keeps = 90 * 24 * time.Hour
	// Patience is how long after a deletion a version without an entry is asked about again: the
	// log trails deletions by minutes, rarely more.
	Patience = 2 * time.Hour
	// slack is how far an entry's time may lie from the version's softDeletedTime: ARM logs the
	// request, the gallery stamps the version when the delete completes.
	slack = 30 * time.Minute
)

// The reasons a deleter is not known. Those that end in askAgain are not settled.
const (
	askAgain   = "; asked again on the next scan"
	NotYet     = "not in the Activity Log yet (it trails deletions by minutes)" + askAgain
	TooOld     = "deleted before the 90 days the Activity Log keeps"
	NoEntry    = "the Activity Log holds no deletion of it"
	unreadable = "the Activity Log could not be read (%s)"
)

// Pending reports whether who deleted v may still be learnt: nobody asked yet, or the log is
// expected to have it on a later scan. Triage does not count an unknown deleter against a
// version while it is pending.
func Pending(v scanner.Version) bool {
	return v.DeletedBy == nil && (v.DeletedByUnknown == "" || strings.HasSuffix(v.DeletedByUnknown, askAgain))
}

// record is what is remembered of one version: who deleted it, or why that is settled as not
// known, as a code (one byte a version, not the sentence: at 100,000 versions the sentences
// made the records 20 MB).
type record struct {
	By      *scanner.Deletion `json:"by,omitempty"`
	Unknown settled           `json:"u,omitempty"`
}

// settled is why a deleter is known to be unknown, for good.
type settled uint8

const (
	settledTooOld settled = 1 + iota
	settledNoEntry
)

func (s settled) String() string {
	switch s {
	case settledTooOld:
		return TooOld
	case settledNoEntry:
		return NoEntry
	}
	return ""
}

// digest names one soft deletion of a version in the Finder's memory and the state file: 12
// bytes of SHA-256 of its lower-cased id and deletion time, where the id alone is 150.
type digest [12]byte

// Finder attributes deletions. It is used by one scan at a time.
type Finder struct {
	source Source
	store  Store // nil: remembered for the process only
	log    *zap.Logger
	known  map[digest]record
	loaded bool
	intern map[string]string
	dirty  []digest // settled since the last save
	older  []string // keys of records of the older form, dropped at the next save
}

// New returns a Finder reading source, remembering in store (nil for none).
func New(source Source, store Store, log *zap.Logger) *Finder {
	if log == nil {
		log = zap.NewNop()
	}
	return &Finder{source: source, store: store, log: log, known: map[digest]record{}, intern: map[string]string{}}
}

// key names one soft deletion of a version: deleted, recovered and deleted again is another.
func key(v *scanner.Version) digest {
	sum := sha256.Sum256([]byte(strings.ToLower(v.ID()) + "|" + strconv.FormatInt(v.SoftDeletedAt.Unix(), 10)))
	return digest(sum[:12])
}

// Attribute sets DeletedBy or DeletedByUnknown on every version of snap (the daemon's one write
// to a snapshot before it publishes it, as triage's), asking the Activity Log about the versions
// not settled yet.
func (f *Finder) Attribute(ctx context.Context, snap *scanner.Snapshot, now time.Time) {
	if snap == nil {
		return
	}
	f.load()
	since := map[string]time.Time{}
	seen := make(map[digest]bool, len(snap.Versions))
	var pending []int
	for i := range snap.Versions {
		v := &snap.Versions[i]
		k := key(v)
		seen[k] = true
		if r, ok := f.known[k]; ok {
			v.DeletedBy, v.DeletedByUnknown = r.By, r.Unknown.String()
			continue
		}
		if now.Sub(v.SoftDeletedAt) > Keeps-slack {
			f.settle(v, record{Unknown: settledTooOld})
			continue
		}
		pending = append(pending, i)
		sub := strings.ToLower(v.SubscriptionID)
		if from, ok := since[sub]; !ok || v.SoftDeletedAt.Add(-slack).Before(from) {
			since[sub] = v.SoftDeletedAt.Add(-slack)
		}
	}
	var found map[string][]scanner.Deletion
	var failed map[string]scanner.ScopeError
	if len(since) > 0 {
		found, failed = f.source.Deletions(ctx, since, now)
		for sub, e := range failed {
			f.log.Warn("the Activity Log could not be read: who deleted its versions stays unknown for now",
				zap.String("subscription", sub), zap.String("code", e.Code), zap.String("message", e.Message))
		}
	}
	for _, i := range pending {
		v := &snap.Versions[i]
		if e, ok := failed[strings.ToLower(v.SubscriptionID)]; ok {
			// Pending, however old the deletion: a log that could not be read says nothing, and
			// with notify.expected.deleters set, one 503 must not make every version of the
			// subscription unknown-deleter (and announce each as not routine).
			v.DeletedBy, v.DeletedByUnknown = nil, fmt.Sprintf(unreadable, e.Code)+askAgain
			continue
		}
		switch d := closest(found[strings.ToLower(v.ID())], v.SoftDeletedAt); {
		case d != nil:
			f.settle(v, record{By: f.shared(d)})
		case now.Sub(v.SoftDeletedAt) < Patience:
			v.DeletedBy, v.DeletedByUnknown = nil, NotYet
		default:
			f.settle(v, record{Unknown: settledNoEntry})
		}
	}
	f.save(seen)
}

// closest is the deletion nearest at, within slack: a version deleted, recovered and deleted
// again has an entry for each time.
func closest(ds []scanner.Deletion, at time.Time) *scanner.Deletion {
	var best *scanner.Deletion
	for i := range ds {
		d := &ds[i]
		if diff := d.At.Sub(at).Abs(); diff <= slack && (best == nil || diff < best.At.Sub(at).Abs()) {
			best = d
		}
	}
	return best
}

// shared is d with its names interned: a pipeline deletes thousands of versions, and they name
// one principal.
func (f *Finder) shared(d *scanner.Deletion) *scanner.Deletion {
	c := *d
	for _, s := range []*string{&c.Caller, &c.PrincipalType, &c.PrincipalName, &c.AppID, &c.ObjectID, &c.ClientIP} {
		if in, ok := f.intern[*s]; ok {
			*s = in
		} else {
			f.intern[*s] = *s
		}
	}
	return &c
}

// settle records r for v, for good.
func (f *Finder) settle(v *scanner.Version, r record) {
	k := key(v)
	f.known[k] = r
	v.DeletedBy, v.DeletedByUnknown = r.By, r.Unknown.String()
	f.dirty = append(f.dirty, k)
}

// load reads what the store remembers, once; a record it cannot read is asked about again.
func (f *Finder) load() {
	if f.loaded || f.store == nil {
		f.loaded = true
		return
	}
	f.loaded = true
	stored, err := f.store.LoadDeleters()
	if err != nil {
		f.log.Warn("cannot read who deleted which version from the state file; asking the Activity Log again", zap.Error(err))
		return
	}
	for k, data := range stored {
		raw, older := []byte(k), false
		var err error
		if len(raw) != len(digest{}) { // the older form: the key in hex, the record in JSON
			raw, err = hex.DecodeString(k)
			older = true
			if err == nil && len(raw) != len(digest{}) {
				err = fmt.Errorf("a key of %d bytes", len(raw))
			}
		}
		var r record
		if err == nil {
			r, err = decodeRecord(data)
		}
		if err != nil {
			f.log.Warn("an unreadable deleter record; asking the Activity Log again", zap.String("key", k), zap.Error(err))
			continue
		}
		if r.By != nil {
			r.By = f.shared(r.By)
		}
		f.known[digest(raw)] = r
		if older {
			f.older = append(f.older, k)
			f.dirty = append(f.dirty, digest(raw))
		}
	}
}

// save writes what was settled, and forgets the versions that left the recycle bins.
func (f *Finder) save(seen map[digest]bool) {
	put := make(map[string][]byte, len(f.dirty))
	for _, k := range f.dirty {
		if r, ok := f.known[k]; ok {
			put[string(k[:])] = r.encode()
		}
	}
	f.dirty = f.dirty[:0]
	drop := f.older // records of the older form, written anew above
	f.older = nil
	for k := range f.known {
		if !seen[k] {
			delete(f.known, k)
			drop = append(drop, string(k[:]))
		}
	}
	if f.store == nil || len(put)+len(drop) == 0 {
		return
	}
	if err := f.store.SaveDeleters(put, drop); err != nil {
		f.log.Warn("cannot remember who deleted which version in the state file; it is asked again after a restart", zap.Error(err))
	}
}

// Describe says who deleted v and when, as a message or the page puts it: "deleted by
// alice@contoso.com from 203.0.113.7, 2h 5m ago", "deleted by service principal 0b4e… (app id)
// from 20.50.2.7, 3h 0m ago", or, when not known, "deleted 2h 5m ago; who by is not known: the
// Activity Log holds no deletion of it". "" when nobody asked.
func Describe(v scanner.Version, now time.Time) string {
	ago := humantime.Short(now.Sub(v.SoftDeletedAt)) + " ago"
	d := v.DeletedBy
	if d == nil {
		if v.DeletedByUnknown == "" {
			return ""
		}
		return "deleted " + ago + "; who by is not known: " + v.DeletedByUnknown
	}
	who := d.Who()
	switch d.PrincipalType {
	case "ServicePrincipal":
		who = "service principal " + who
	case "ManagedIdentity":
		who = "managed identity " + who
	}
	if d.PrincipalName == "" && d.AppID != "" && d.AppID == d.Who() {
		who += " (app id)"
	}
	if d.ClientIP != "" {
		who += " from " + d.ClientIP
	}
	if !d.At.IsZero() {
		ago = humantime.Short(now.Sub(d.At)) + " ago"
	}
	return "deleted by " + who + ", " + ago
}

// Label is the deleted_by label of v's info metric and of a silence's matchers: the deleter in
// one word, "unknown" once settled as not known, "" while pending.
func Label(v scanner.Version) string {
	switch {
	case v.DeletedBy != nil:
		return v.DeletedBy.Who()
	case Pending(v):
		return ""
	}
	return "unknown"
}
