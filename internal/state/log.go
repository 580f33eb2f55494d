package state

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Event is one event of a message, as the state file takes it: the event's own JSON for the
// outbox, and what the log keeps of it.
type Event struct {
	// ID is the event's id: the log never queues the same id twice on a channel.
	ID string
	// Kind and Subject are what pruning reads: a subject's entries go once its resolution (Kind
	// Resolved) is older than notify.keep.
	Kind    string
	Subject string
	// Body is the event as the outbox carries it until it is delivered.
	Body json.RawMessage
	// Change is what the event does to the channel's open records, keyed by Subject.
	Change Change
	// Version (OpensVersion) is what the version's resolution needs of it, kept while it is open,
	// and Shared what it shares with other versions (its image definition), kept once for all;
	// notify encodes both. Severity becomes the open version's when Escalates is set or it has
	// none yet.
	Version   []byte
	Shared    []byte
	Severity  string
	Escalates bool
}

// Change is what an event does to the records of what is open on a channel.
type Change uint8

// Changes.
const (
	NoChange      Change = iota
	OpensVersion         // announced: the version is open until resolved
	ClosesVersion        // resolved
	OpensEpisode         // scan-failing: Body is the channel's open blind episode
	ClosesEpisode        // scan-recovered
)

// Resolved is the kind of an event that ends its subject: pruning counts notify.keep from it.
const Resolved = "resolved"

// Message is one message for one channel.
type Message struct {
	Channel string
	Events  []Event
}

// enqueueChunk bounds the events one transaction writes: bbolt holds a transaction's every
// changed page in memory until it commits, which for 100,000 events on a first scan was hundreds
// of MB.
const enqueueChunk = 5000

// Enqueue queues the messages and logs their events, and keeps the channels' open records in
// step with each event's Change. A message and the log entries of its events are written in one
// transaction, several messages to a transaction up to enqueueChunk events: a crash between two
// leaves the later messages unlogged, so the next scan queues them again, and none twice.
func (f *File) Enqueue(messages []Message, now time.Time) error {
	for len(messages) > 0 {
		n, events := 0, 0
		for n < len(messages) && events < enqueueChunk {
			events += len(messages[n].Events)
			n++
		}
		if err := f.update(func(tx *bolt.Tx) error { return enqueueTx(tx, messages[:n], now) }); err != nil {
			return err
		}
		messages = messages[n:]
	}
	return nil
}

func enqueueTx(tx *bolt.Tx, messages []Message, now time.Time) error {
	outB := tx.Bucket(bucketOutbox)
	rs := newRecords(tx)
	for _, m := range messages {
		seq, err := outB.NextSequence()
		if err != nil {
			return err
		}
		entry, err := encodeEntry(outboxEntry{Events: bodies(m.Events), NextAttempt: now, Queued: now})
		if err != nil {
			return err
		}
		if err := outB.Put(seqKey(m.Channel, seq), entry); err != nil {
			return err
		}
		for _, e := range m.Events {
			if err := apply(tx, rs, m.Channel, e, now); err != nil {
				return err
			}
		}
	}
	return rs.flush()
}

// apply logs an event and makes its Change to the channel's open records.
func apply(tx *bolt.Tx, rs *records, channel string, e Event, now time.Time) error {
	k := subjectKey(channel, e.Subject)
	rec, err := rs.get(k)
	if err != nil {
		return fmt.Errorf("the log's record of %s: %w", e.Subject, err)
	}
	if rec.event(e.ID) == nil {
		rec.events = append(rec.events, loggedEvent{id: e.ID, kind: e.Kind, queued: unix(now)})
	}
	rs.put(k)
	switch e.Change {
	case OpensEpisode:
		return tx.Bucket(bucketBlind).Put([]byte(channel), e.Body)
	case ClosesEpisode:
		return tx.Bucket(bucketBlind).Delete([]byte(channel))
	case ClosesVersion:
		if err := rs.unshare(rec.shared); err != nil {
			return err
		}
		rec.since, rec.severity, rec.shared, rec.version = 0, "", nil, nil
	case OpensVersion:
		if rec.since == 0 {
			rec.since = unix(now)
		}
		shared, err := rs.share(e.Shared)
		if err != nil {
			return err
		}
		if err := rs.unshare(rec.shared); err != nil { // the same bytes, counted once
			return err
		}
		rec.shared, rec.version = shared, e.Version
		if e.Escalates || rec.severity == "" {
			rec.severity = e.Severity
		}
	}
	return nil
}

func bodies(events []Event) []json.RawMessage {
	out := make([]json.RawMessage, len(events))
	for i, e := range events {
		out[i] = e.Body
	}
	return out
}

// Key names an event in the log: its id, and the subject it is about.
type Key struct{ ID, Subject string }

// Logged reports which of the events channel has already queued (or delivered), by id.
func (f *File) Logged(channel string, keys []Key) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSubjects)
		read := map[string]*subjectRecord{}
		for _, key := range keys {
			rec, ok := read[key.Subject]
			if !ok {
				if v := b.Get(subjectKey(channel, key.Subject)); v != nil {
					r, err := decodeRecord(v)
					if err != nil {
						return fmt.Errorf("the log's record of %s: %w", key.Subject, err)
					}
					rec = &r
				}
				read[key.Subject] = rec
			}
			if rec != nil && rec.event(key.ID) != nil {
				out[key.ID] = true
			}
		}
		return nil
	})
	return out, err
}

// Legacy reads the kind and subject of a log entry written before the log was slimmed, from the
// whole event it holds.
type Legacy func(event json.RawMessage) (kind, subject string, err error)

// Prune forgets what was resolved more than keep before now: the record of each subject (a
// version, or a blind episode) whose resolution was queued that long ago, on that channel. Such a
// version has left the bin, so no event about it can come again; the log then holds what is still
// in the bins and what left recently. The records are read in a read transaction, so that the
// writers (queuing, delivery) wait only for the deletes. A record that cannot be decoded is left
// alone and counted. It returns how many events it forgot. (legacy is for Migrate: a file whose
// log was not yet moved into records is pruned after it is.)
func (f *File) Prune(now time.Time, keep time.Duration, _ Legacy) (removed, unreadable int, err error) {
	var doomed [][]byte
	err = f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubjects).ForEach(func(k, v []byte) error {
			rec, err := decodeRecord(v)
			if err != nil {
				unreadable++
				return nil
			}
			for _, e := range rec.events {
				if e.kind == Resolved && now.Sub(time.Unix(e.queued, 0)) > keep {
					doomed = append(doomed, append([]byte(nil), k...))
					removed += len(rec.events)
					break
				}
			}
			return nil
		})
	})
	if err != nil || len(doomed) == 0 {
		return 0, unreadable, err
	}
	// A subject resolved long ago gets no new events, so what was read is still what to delete.
	err = f.update(func(tx *bolt.Tx) error {
		rs := newRecords(tx)
		for _, k := range doomed {
			if rec, err := rs.get(k); err == nil {
				if err := rs.unshare(rec.shared); err != nil {
					return err
				}
			}
			if err := rs.b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, unreadable, err
	}
	return removed, unreadable, nil
}

// LogEntries counts the log's entries.
func (f *File) LogEntries() int {
	n := 0
	_ = f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubjects).ForEach(func(_, v []byte) error {
			if rec, err := decodeRecord(v); err == nil {
				n += len(rec.events)
			}
			return nil
		})
	})
	return n
}
