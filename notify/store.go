package notify

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The store's buckets. Keys are "channel\x00…", so one channel's records sort together.
var (
	// bucketLog is the notification log: channel\x00eventID → logEntry. An event is logged when it
	// is queued; it is never queued twice.
	bucketLog = []byte("log")
	// bucketOutbox holds messages not yet delivered: channel\x00seq → outboxEntry, in order.
	bucketOutbox = []byte("outbox")
	// bucketOpen holds the versions announced and not yet resolved: channel\x00versionKey → openEntry.
	bucketOpen = []byte("open")
	// bucketBlind holds each channel's open blind episode: channel → the scan-failing Event.
	bucketBlind = []byte("blind")
	// bucketDead holds the messages a receiver refused for good: channel\x00seq → deadLetter,
	// until `notify retry` queues them again.
	bucketDead = []byte("dead")
	// bucketSends holds each channel's last delivery and last failure: channel → Sends.
	bucketSends = []byte("sends")
	// bucketBins holds the incremental scans' memory of each recycle bin: image definition id →
	// the scanner's record (scanner.BinMemory). The scanner owns the bytes.
	bucketBins = []byte("bins")
)

var buckets = [][]byte{bucketLog, bucketOutbox, bucketOpen, bucketBlind, bucketDead, bucketSends, bucketBins}

// logEntry records that an event was queued on a channel, and delivered. It holds what dedupe and
// pruning need, not the event: the message in the outbox carries that until it is delivered. (At
// 100,000 versions whole events made the log 540 MB.)
type logEntry struct {
	Kind Kind `json:"kind,omitempty"`
	// Subject is what the event is about: subject(event).
	Subject     string    `json:"subject,omitempty"`
	QueuedAt    time.Time `json:"queuedAt"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	// Event is how state files written before the log was slimmed hold kind and subject.
	Event *Event `json:"event,omitempty"`
}

func newLogEntry(e Event, queued time.Time) logEntry {
	return logEntry{Kind: e.Kind, Subject: subject(e), QueuedAt: queued}
}

// kind and about read an entry of either form.
func (le logEntry) kind() Kind {
	if le.Event != nil {
		return le.Event.Kind
	}
	return le.Kind
}

func (le logEntry) about() string {
	if le.Event != nil {
		return subject(*le.Event)
	}
	return le.Subject
}

type outboxEntry struct {
	Events      []Event   `json:"events"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"nextAttempt"`
	LastError   string    `json:"lastError,omitempty"`
}

type openEntry struct {
	Version  json.RawMessage `json:"version"`
	Since    time.Time       `json:"since"`
	Severity string          `json:"severity"`
}

// Store is the notification log and outbox, in one bbolt file so that queuing an event and
// logging it are one transaction.
type Store struct {
	db   *bolt.DB
	path string
	// recovered is where a corrupt state file was moved aside at open; "" when it was sound.
	recovered string
}

// ErrStateHeld is returned when another process holds the state file's lock.
var ErrStateHeld = errors.New("another purgewatch holds it (only one process may use a state file)")

// lockWait is how long opening waits for another process to let go of the file.
const lockWait = time.Second

// OpenStore opens (creating) the state file. A file that is not a sound bbolt database (wrong
// magic, bad checksum, unreadable pages) is moved aside to <path>.corrupt-<time> and replaced by
// an empty one: a repeated warning is better than none. Recovered says where it went.
func OpenStore(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("notification state %s: %w", path, err)
	}
	db, err := openSound(path, false)
	var corrupt *corruptError
	if !errors.As(err, &corrupt) {
		if err != nil {
			return nil, err
		}
		return prepare(db, path, "")
	}
	aside := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("notification state %s is corrupt (%v) and cannot be moved aside: %w", path, corrupt.err, err)
	}
	if db, err = openSound(path, false); err != nil {
		return nil, err
	}
	return prepare(db, path, aside)
}

// corruptError is a state file that is not a sound bbolt database.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return "corrupt: " + e.err.Error() }

// openSound opens the file and reads every page of it once, so that corruption shows now as an
// error rather than later as a panic in the middle of a scan. bbolt panics on a page it cannot
// make sense of; that panic is caught here, and only here, and turned into a corruptError.
func openSound(path string, readOnly bool) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, &corruptError{err: fmt.Errorf("%v", p)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait, ReadOnly: readOnly})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("notification state %s: %w", path, ErrStateHeld)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, &corruptError{err: err}
	case err != nil:
		return nil, fmt.Errorf("opening notification state %s: %w", path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
	})
	if err != nil {
		_ = db.Close()
		return nil, &corruptError{err: err}
	}
	return db, nil
}

// walk reads every key of b and of the buckets nested in it.
func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return walk(nested)
			}
		}
		return nil
	})
}

func prepare(db *bolt.DB, path, recovered string) (*Store, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("preparing notification state %s: %w", path, err)
	}
	// After the write above, which is what makes bbolt count its free pages.
	if db, err = compactIfSparse(db, path); err != nil {
		if db != nil {
			_ = db.Close()
		}
		return nil, err
	}
	return &Store{db: db, path: path, recovered: recovered}, nil
}

// Recovered is where a corrupt state file was moved aside when this one was opened; "" when the
// file was sound.
func (s *Store) Recovered() string { return s.recovered }

// Path is the state file.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

func key(channel, rest string) []byte { return []byte(channel + "\x00" + rest) }

func seqKey(channel string, seq uint64) []byte {
	k := make([]byte, len(channel)+1+8)
	copy(k, channel)
	binary.BigEndian.PutUint64(k[len(channel)+1:], seq)
	return k
}

func channelPrefix(channel string) []byte { return []byte(channel + "\x00") }

func put(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

func get(b *bolt.Bucket, k []byte, v any) (bool, error) {
	data := b.Get(k)
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

// queued is one channel's new messages, ready to enter the outbox.
type queued struct {
	channel  string
	messages [][]Event
}

// enqueueChunk bounds the events one transaction writes: bbolt holds a transaction's every
// changed page in memory until it commits, which for 100,000 events on a first scan was hundreds
// of MB.
const enqueueChunk = 5000

// enqueue queues the messages and logs their events, and keeps the channel's open versions in
// step: opened by expiring and unusable events, closed by resolved ones. A message and the log
// entries of its events are written in one transaction, several messages to a transaction up to
// enqueueChunk events: a crash between two leaves the later messages unlogged, so the next scan
// queues them again, and none twice.
func (s *Store) enqueue(batches []queued, now time.Time) error {
	var chunk []outgoing
	n := 0
	flush := func() error {
		err := s.enqueueTx(chunk, now)
		chunk, n = chunk[:0], 0
		return err
	}
	for _, q := range batches {
		for _, events := range q.messages {
			chunk, n = append(chunk, outgoing{q.channel, events}), n+len(events)
			if n >= enqueueChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if len(chunk) == 0 {
		return nil
	}
	return flush()
}

// outgoing is one message for one channel.
type outgoing struct {
	channel string
	events  []Event
}

func (s *Store) enqueueTx(messages []outgoing, now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		logB, outB, openB := tx.Bucket(bucketLog), tx.Bucket(bucketOutbox), tx.Bucket(bucketOpen)
		for _, q := range messages {
			seq, err := outB.NextSequence()
			if err != nil {
				return err
			}
			if err := put(outB, seqKey(q.channel, seq), outboxEntry{Events: q.events, NextAttempt: now}); err != nil {
				return err
			}
			for _, e := range q.events {
				if err := put(logB, key(q.channel, e.ID), newLogEntry(e, now)); err != nil {
					return err
				}
				if e.Scan != nil { // a blind episode opens or closes
					blindB := tx.Bucket(bucketBlind)
					if e.Kind == KindScanFailing {
						if err := put(blindB, []byte(q.channel), e); err != nil {
							return err
						}
					} else if err := blindB.Delete([]byte(q.channel)); err != nil {
						return err
					}
					continue
				}
				vk := key(q.channel, versionKey(e.Version))
				if e.Kind == KindResolved {
					if err := openB.Delete(vk); err != nil {
						return err
					}
					continue
				}
				var open openEntry
				found, err := get(openB, vk, &open)
				if err != nil {
					return err
				}
				if !found {
					open.Since = now
				}
				if open.Version, err = json.Marshal(e.Version); err != nil {
					return err
				}
				if e.Kind == KindExpiring || open.Severity == "" {
					open.Severity = e.Severity
				}
				if err := put(openB, vk, open); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// logged reports whether channel has already queued (or delivered) event id.
func (s *Store) logged(channel string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLog)
		for _, id := range ids {
			if b.Get(key(channel, id)) != nil {
				out[id] = true
			}
		}
		return nil
	})
	return out, err
}

// openVersion is a version announced on a channel and not yet resolved.
type openVersion struct {
	key      string          // versionKey
	raw      json.RawMessage // the version's JSON; only for versions the snapshot no longer holds
	since    time.Time
	severity string
}

// openHead is an openEntry read without its version: decoding skips the object, copying nothing.
type openHead struct {
	Since    time.Time `json:"since"`
	Severity string    `json:"severity"`
}

// openVersions lists a channel's announced, unresolved versions. The version's JSON is read only
// for those present does not hold (what the resolve stage describes): at 100,000 open versions a
// scan otherwise copied 70 MB of it, twice.
func (s *Store) openVersions(channel string, present map[string]bool) ([]openVersion, error) {
	var out []openVersion
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOpen).Cursor()
		prefix := channelPrefix(channel)
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			o := openVersion{key: string(k[len(prefix):])}
			if present[o.key] {
				var h openHead
				if err := json.Unmarshal(v, &h); err != nil {
					return fmt.Errorf("open version %q: %w", k, err)
				}
				o.since, o.severity = h.Since, h.Severity
			} else {
				var e openEntry
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("open version %q: %w", k, err)
				}
				o.raw, o.since, o.severity = e.Version, e.Since, e.Severity
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// pending is one outbox entry.
type pending struct {
	key []byte
	outboxEntry
}

// head returns the channel's oldest undelivered message, if any.
func (s *Store) head(channel string) (*pending, error) {
	var p *pending
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := channelPrefix(channel)
		k, v := tx.Bucket(bucketOutbox).Cursor().Seek(prefix)
		if k == nil || !strings.HasPrefix(string(k), string(prefix)) {
			return nil
		}
		p = &pending{key: append([]byte(nil), k...)}
		return json.Unmarshal(v, &p.outboxEntry)
	})
	return p, err
}

// delivered removes a message from the outbox and records its events as delivered.
func (s *Store) delivered(channel string, p *pending, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketOutbox).Delete(p.key); err != nil {
			return err
		}
		logB := tx.Bucket(bucketLog)
		for _, e := range p.Events {
			var le logEntry
			found, err := get(logB, key(channel, e.ID), &le)
			if err != nil {
				return err
			}
			if !found {
				le = newLogEntry(e, at)
			}
			le.DeliveredAt = at
			if err := put(logB, key(channel, e.ID), le); err != nil {
				return err
			}
		}
		return recordSend(tx, channel, func(s *Sends) { s.LastDelivered, s.LastDeliveredEvents = at, len(p.Events); s.Delivered++ })
	})
}

// failed records a failed attempt at ended and when to try again.
func (s *Store) failed(channel string, p *pending, ended, next time.Time, cause string) error {
	p.Attempts++
	p.NextAttempt, p.LastError = next, cause
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		if b.Get(p.key) == nil {
			return errors.New("outbox entry vanished")
		}
		if err := put(b, p.key, p.outboxEntry); err != nil {
			return err
		}
		return recordSend(tx, channel, func(s *Sends) { s.LastFailed, s.LastError = ended, cause })
	})
}

// blindEpisode returns the channel's open scan-failing event, or nil.
func (s *Store) blindEpisode(channel string) (*Event, error) {
	var e *Event
	err := s.db.View(func(tx *bolt.Tx) error {
		var got Event
		found, err := get(tx.Bucket(bucketBlind), []byte(channel), &got)
		if found {
			e = &got
		}
		return err
	})
	return e, err
}

// OpenStoreReadOnly opens the state file to read it, beside nothing that writes it: nil, nil when
// there is none yet; ErrStateHeld when a running purgewatch holds it.
func OpenStoreReadOnly(path string) (*Store, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := openSound(path, true)
	var corrupt *corruptError
	if errors.As(err, &corrupt) {
		return nil, fmt.Errorf("notification state %s is corrupt (%v): `purgewatch run` moves it aside and starts afresh", path, corrupt.err)
	}
	if err != nil {
		return nil, err
	}
	if err := db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLog, bucketOutbox, bucketOpen} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("bucket %s is missing: not a purgewatch state file", b)
			}
		}
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("reading notification state %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}
