package state

import (
	"encoding/json"
	"strings"
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
	// Version (OpensVersion) is the version's JSON, kept while it is open; Severity becomes the
	// open version's when Escalates is set or it has none yet.
	Version   json.RawMessage
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

// logEntry records that an event was queued on a channel, and delivered. It holds what dedupe and
// pruning need, not the event: the message in the outbox carries that until it is delivered. (At
// 100,000 versions whole events made the log 540 MB.)
type logEntry struct {
	Kind        string    `json:"kind,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	QueuedAt    time.Time `json:"queuedAt"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	// Legacy is how state files written before the log was slimmed hold kind and subject: the
	// whole event, which only notify can read (see Prune).
	Legacy json.RawMessage `json:"event,omitempty"`
}

func newLogEntry(e Event, queued time.Time) logEntry {
	return logEntry{Kind: e.Kind, Subject: e.Subject, QueuedAt: queued}
}

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
		if err := f.db.Update(func(tx *bolt.Tx) error { return enqueueTx(tx, messages[:n], now) }); err != nil {
			return err
		}
		messages = messages[n:]
	}
	return nil
}

func enqueueTx(tx *bolt.Tx, messages []Message, now time.Time) error {
	logB, outB := tx.Bucket(bucketLog), tx.Bucket(bucketOutbox)
	for _, m := range messages {
		seq, err := outB.NextSequence()
		if err != nil {
			return err
		}
		if err := put(outB, seqKey(m.Channel, seq), outboxEntry{Events: bodies(m.Events), NextAttempt: now, Queued: now}); err != nil {
			return err
		}
		for _, e := range m.Events {
			if err := put(logB, key(m.Channel, e.ID), newLogEntry(e, now)); err != nil {
				return err
			}
			if err := apply(tx, m.Channel, e, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply makes an event's Change to the channel's open records.
func apply(tx *bolt.Tx, channel string, e Event, now time.Time) error {
	switch e.Change {
	case OpensEpisode:
		return tx.Bucket(bucketBlind).Put([]byte(channel), e.Body)
	case ClosesEpisode:
		return tx.Bucket(bucketBlind).Delete([]byte(channel))
	case ClosesVersion:
		return tx.Bucket(bucketOpen).Delete(key(channel, e.Subject))
	case OpensVersion:
		openB, vk := tx.Bucket(bucketOpen), key(channel, e.Subject)
		var open openEntry
		found, err := get(openB, vk, &open)
		if err != nil {
			return err
		}
		if !found {
			open.Since = now
		}
		open.Version = e.Version
		if e.Escalates || open.Severity == "" {
			open.Severity = e.Severity
		}
		return put(openB, vk, open)
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

// Logged reports which of ids channel has already queued (or delivered).
func (f *File) Logged(channel string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	err := f.db.View(func(tx *bolt.Tx) error {
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

// Legacy reads the kind and subject of a log entry written before the log was slimmed, from the
// whole event it holds.
type Legacy func(event json.RawMessage) (kind, subject string, err error)

// Prune forgets what was resolved more than keep before now: every log entry of a subject (a
// version, or a blind episode) whose resolution was queued that long ago, on that channel. Such a
// version has left the bin, so no event about it can come again; the log then holds what is still
// in the bins and what left recently. The log is read in a read transaction, so that the writers
// (queuing, delivery) wait only for the deletes. An entry that cannot be decoded is left alone and
// counted. It returns how many entries it removed.
func (f *File) Prune(now time.Time, keep time.Duration, legacy Legacy) (removed, unreadable int, err error) {
	var doomed [][]byte
	err = f.db.View(func(tx *bolt.Tx) error {
		done := map[string]bool{} // channel\x00subject resolved long enough ago
		type entry struct {
			key  []byte
			subj string
		}
		var all []entry
		err := tx.Bucket(bucketLog).ForEach(func(k, v []byte) error {
			var le logEntry
			if err := json.Unmarshal(v, &le); err != nil {
				unreadable++
				return nil
			}
			kind, about := le.Kind, le.Subject
			if le.Legacy != nil {
				var lerr error
				if kind, about, lerr = legacy(le.Legacy); lerr != nil {
					unreadable++
					return nil
				}
			}
			ch, _, _ := strings.Cut(string(k), "\x00")
			subj := ch + "\x00" + about
			if kind == Resolved && now.Sub(le.QueuedAt) > keep {
				done[subj] = true
			}
			all = append(all, entry{key: append([]byte(nil), k...), subj: subj})
			return nil
		})
		for _, e := range all {
			if done[e.subj] {
				doomed = append(doomed, e.key)
			}
		}
		return err
	})
	if err != nil || len(doomed) == 0 {
		return 0, unreadable, err
	}
	// A subject resolved long ago gets no new entries, so what was read is still what to delete.
	err = f.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLog)
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, unreadable, err
	}
	return len(doomed), unreadable, nil
}

// LogEntries counts the log's entries.
func (f *File) LogEntries() int {
	n := 0
	_ = f.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketLog).Stats().KeyN; return nil })
	return n
}
