package state

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// logEntry is a log entry as files before subject records kept it: that an event was queued on a
// channel, and delivered.
type logEntry struct {
	Kind        string    `json:"kind,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	QueuedAt    time.Time `json:"queuedAt"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	// Legacy is how state files written before the log was slimmed hold kind and subject: the
	// whole event, which only notify can read (see Prune).
	Legacy json.RawMessage `json:"event,omitempty"`
}

// openEntry is an open version as files before subject records kept it.
type openEntry struct {
	Version  json.RawMessage `json:"version"`
	Since    time.Time       `json:"since"`
	Severity string          `json:"severity"`
}

// migrateChunk bounds the old entries one transaction of Migrate moves, as enqueueChunk does.
const migrateChunk = 5000

// Migrate moves the log of a file written before subject records (bucketLog's entries, and
// bucketOpen's open versions) into records, a chunk of entries to a transaction, each chunk
// deleted from the old buckets as it is moved: a crash between two leaves the rest for the next
// start. An entry of the oldest form holds the whole event, which only notify reads (legacy). An
// entry that cannot be read stays where it is, counted. Open versions keep their JSON, which
// notify still reads. It returns how many entries it moved.
func (f *File) Migrate(legacy Legacy) (moved, unreadable int, err error) {
	for _, bucket := range [][]byte{bucketOpen, bucketLog} {
		skip := 0
		for {
			n, bad, err := f.migrateChunk(bucket, legacy, skip)
			moved, unreadable, skip = moved+n, unreadable+bad, skip+bad
			if err != nil {
				return moved, unreadable, fmt.Errorf("moving the %s bucket into records: %w", bucket, err)
			}
			if n == 0 {
				break
			}
		}
	}
	return moved, unreadable, nil
}

// migrateChunk moves up to migrateChunk entries of bucket, past the first skip (the unreadable
// ones left behind by earlier chunks).
func (f *File) migrateChunk(bucket []byte, legacy Legacy, skip int) (moved, unreadable int, err error) {
	err = f.update(func(tx *bolt.Tx) error {
		old := tx.Bucket(bucket)
		rs := newRecords(tx)
		var done [][]byte
		c := old.Cursor()
		k, v := c.First()
		for range skip {
			k, v = c.Next()
		}
		for ; k != nil && len(done) < migrateChunk; k, v = c.Next() {
			channel, rest, _ := strings.Cut(string(k), "\x00")
			ok := true
			if string(bucket) == string(bucketOpen) {
				ok = migrateOpen(rs, channel, rest, v)
			} else {
				ok = migrateLogEntry(rs, channel, rest, v, legacy)
			}
			if !ok {
				unreadable++
				continue
			}
			done = append(done, append([]byte(nil), k...))
		}
		for _, k := range done {
			if err := old.Delete(k); err != nil {
				return err
			}
		}
		moved = len(done)
		return rs.flush()
	})
	return moved, unreadable, err
}

func migrateOpen(rs *records, channel, subject string, v []byte) bool {
	var e openEntry
	if json.Unmarshal(v, &e) != nil {
		return false
	}
	k := subjectKey(channel, subject)
	rec, err := rs.get(k)
	if err != nil {
		return false
	}
	rec.since, rec.severity, rec.version = unix(e.Since), e.Severity, e.Version
	if rec.since == 0 {
		rec.since = 1 // open, since the file does not say when
	}
	rs.put(k)
	return true
}

func migrateLogEntry(rs *records, channel, id string, v []byte, legacy Legacy) bool {
	var le logEntry
	if json.Unmarshal(v, &le) != nil {
		return false
	}
	kind, subject := le.Kind, le.Subject
	if le.Legacy != nil {
		var err error
		if legacy == nil {
			return false
		}
		if kind, subject, err = legacy(le.Legacy); err != nil {
			return false
		}
	}
	k := subjectKey(channel, subject)
	rec, err := rs.get(k)
	if err != nil {
		return false
	}
	if rec.event(id) == nil {
		rec.events = append(rec.events, loggedEvent{id: id, kind: kind, queued: unix(le.QueuedAt), delivered: unix(le.DeliveredAt)})
	}
	rs.put(k)
	return true
}
