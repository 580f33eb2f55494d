package state

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/purgewatch/purgewatch/internal/binrec"
)

type outboxEntry struct {
	Events      []json.RawMessage `json:"events"`
	Attempts    int               `json:"attempts"`
	NextAttempt time.Time         `json:"nextAttempt"`
	LastError   string            `json:"lastError,omitempty"`
	// Queued is when the message entered the outbox (absent from files before it was kept:
	// NextAttempt of a message never tried stands in).
	Queued time.Time `json:"queued,omitzero"`
}

// queued is when the message entered the outbox, as well as the file knows.
func (e *outboxEntry) queued() time.Time {
	if e.Queued.IsZero() {
		return e.NextAttempt
	}
	return e.Queued
}

// decodeEntry reads an outbox record. bbolt checksums its metadata, not its data pages: a
// flipped byte, or a record of another shape, is an error here and must stop nothing.
func decodeEntry(v []byte) (outboxEntry, error) {
	var e outboxEntry
	data := v
	if len(v) > 0 && v[0] == entryFormat {
		_, _, body, err := entryHead(v)
		if err == nil {
			data, err = gunzip(body)
		}
		if err != nil {
			return e, fmt.Errorf("an outbox record that cannot be read (%d bytes): %w", len(v), err)
		}
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("an outbox record that cannot be read (%d bytes): %w", len(v), err)
	}
	return e, nil
}

// entryFormat is the first byte of an outbox record since they are gzipped: then the number of
// events and when the message was queued (varints), so that counting the outbox decompresses
// nothing, then the entry's JSON, gzipped. A record that starts with '{' is the older, plain
// JSON form.
const entryFormat = 2

// entryHead reads a record's head: its events, when it was queued, and the gzipped rest.
func entryHead(v []byte) (events int, queued time.Time, body []byte, err error) {
	r := binrec.NewReader(v[1:])
	events, q := int(r.Uvarint()), r.Varint()
	if err := r.Err(); err != nil {
		return 0, time.Time{}, nil, err
	}
	return events, time.Unix(0, q).UTC(), v[len(v)-r.Len():], nil
}

func gunzip(body []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if len(body) >= 4 { // gzip's trailer says how long the data is: one allocation, not a doubling series
		out.Grow(int(min(binary.LittleEndian.Uint32(body[len(body)-4:]), maxField)))
	}
	_, err = out.ReadFrom(io.LimitReader(zr, maxField))
	return out.Bytes(), err
}

// zippers are gzip writers kept for reuse: each holds about a megabyte of compressor state, and
// a first scan writes a thousand records.
var zippers = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// encodeEntry writes an outbox record: a head, then its JSON gzipped. A first scan queues a
// message for every version at once (100 MB of events' JSON at 100,000 versions, a tenth of that
// gzipped), and the file keeps its high-water mark until it is compacted.
func encodeEntry(e outboxEntry) ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(binary.AppendVarint(binary.AppendUvarint([]byte{entryFormat}, uint64(len(e.Events))), e.queued().UnixNano()))
	zw := zippers.Get().(*gzip.Writer)
	defer zippers.Put(zw)
	zw.Reset(buf)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// deadLetter is a message a receiver refused for good (a 4xx other than 408 and 429): kept with
// the receiver's answer until someone fixes the receiver and runs `notify retry`.
type deadLetter struct {
	Events   []json.RawMessage `json:"events"`
	At       time.Time         `json:"at"`
	Attempts int               `json:"attempts"`
	Status   int               `json:"status,omitempty"`
	Answer   string            `json:"answer,omitempty"`
	Error    string            `json:"error"`
	// Raw is a record that could not be read, kept as it was found.
	Raw []byte `json:"raw,omitempty"`
}

// Pending is a channel's oldest undelivered message.
type Pending struct {
	key         []byte
	Events      []json.RawMessage
	Attempts    int
	NextAttempt time.Time
	LastError   string
	Queued      time.Time
	// Undecodable is set when the record could not be read: why. The caller buries it (a dead
	// letter keeps the bytes) and goes on with the next.
	Undecodable error
	raw         []byte
}

// Head returns the channel's oldest undelivered message, if any.
func (f *File) Head(channel string) (*Pending, error) {
	var p *Pending
	err := f.view(func(tx *bolt.Tx) error {
		prefix := channelPrefix(channel)
		k, v := tx.Bucket(bucketOutbox).Cursor().Seek(prefix)
		if k == nil || !strings.HasPrefix(string(k), string(prefix)) {
			return nil
		}
		p = pendingOf(append([]byte(nil), k...), v)
		return nil
	})
	return p, err
}

// pendingOf reads the outbox record v at key k.
func pendingOf(k, v []byte) *Pending {
	p := &Pending{key: k}
	e, err := decodeEntry(v)
	if err != nil {
		p.Undecodable, p.raw = err, append([]byte(nil), v...)
		return p
	}
	p.Events, p.Attempts, p.NextAttempt, p.LastError, p.Queued = e.Events, e.Attempts, e.NextAttempt, e.LastError, e.queued()
	return p
}

// Delivered removes a message from the outbox and records its events (their ID, Kind and
// Subject) as delivered.
func (f *File) Delivered(channel string, p *Pending, events []Event, at time.Time) error {
	return f.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketOutbox).Delete(p.key); err != nil {
			return err
		}
		rs := newRecords(tx)
		for _, e := range events {
			k := subjectKey(channel, e.Subject)
			rec, err := rs.get(k)
			if err != nil {
				return fmt.Errorf("the log's record of %s: %w", e.Subject, err)
			}
			le := rec.event(e.ID)
			if le == nil {
				rec.events = append(rec.events, loggedEvent{id: e.ID, kind: e.Kind, queued: unix(at)})
				le = &rec.events[len(rec.events)-1]
			}
			le.delivered = unix(at)
			rs.put(k)
		}
		if err := rs.flush(); err != nil {
			return err
		}
		return recordSend(tx, channel, func(s *Sends) { s.LastDelivered, s.LastDeliveredEvents = at, len(events); s.Delivered++ })
	})
}

// Failed records a failed attempt at ended and when to try again.
func (f *File) Failed(channel string, p *Pending, ended, next time.Time, cause string) error {
	p.Attempts++
	p.NextAttempt, p.LastError = next, cause
	return f.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		if b.Get(p.key) == nil {
			return errors.New("outbox entry vanished")
		}
		entry, err := encodeEntry(outboxEntry{Events: p.Events, Attempts: p.Attempts, NextAttempt: p.NextAttempt, LastError: p.LastError, Queued: p.Queued})
		if err != nil {
			return err
		}
		if err := b.Put(p.key, entry); err != nil {
			return err
		}
		return recordSend(tx, channel, func(s *Sends) { s.LastFailed, s.LastError = ended, cause })
	})
}

// Bury moves the head of a channel's outbox to its dead letters, in one transaction. A message
// marked Undecodable (by Head, or by the caller that could not read its events) keeps its bytes
// as Raw, and is never requeued: there is nothing to send again.
func (f *File) Bury(channel string, p *Pending, at time.Time, status int, answer, cause string) error {
	raw := p.raw
	if p.Undecodable != nil && raw == nil {
		raw, _ = json.Marshal(p.Events) // RawMessages: cannot fail
	}
	return f.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketOutbox).Delete(p.key); err != nil {
			return err
		}
		dead := tx.Bucket(bucketDead)
		seq, err := dead.NextSequence()
		if err != nil {
			return err
		}
		if err := put(dead, seqKey(channel, seq), deadLetter{Events: p.Events, At: at, Attempts: p.Attempts + 1,
			Status: status, Answer: answer, Error: cause, Raw: raw}); err != nil {
			return err
		}
		return recordSend(tx, channel, func(s *Sends) { s.LastFailed, s.LastError = at, cause })
	})
}

// Requeue moves a channel's dead letters back to the end of its outbox, due at once; it returns
// how many messages it moved.
func (f *File) Requeue(channel string, now time.Time) (int, error) {
	moved := 0
	err := f.update(func(tx *bolt.Tx) error {
		dead, out := tx.Bucket(bucketDead), tx.Bucket(bucketOutbox)
		prefix := channelPrefix(channel)
		c := dead.Cursor()
		var keys [][]byte
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			var d deadLetter
			if err := json.Unmarshal(v, &d); err != nil || d.Raw != nil {
				continue // nothing to send again: it stays a dead letter, for a person to read
			}
			seq, err := out.NextSequence()
			if err != nil {
				return err
			}
			entry, err := encodeEntry(outboxEntry{Events: d.Events, NextAttempt: now, Queued: now})
			if err != nil {
				return err
			}
			if err := out.Put(seqKey(channel, seq), entry); err != nil {
				return err
			}
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			if err := dead.Delete(k); err != nil {
				return err
			}
		}
		moved = len(keys)
		return nil
	})
	return moved, err
}

// Letter is one message waiting in the outbox (State LetterPending) or refused for good
// (LetterDead), with its events as the outbox holds them.
type Letter struct {
	Channel     string
	State       string
	Seq         uint64
	Events      []json.RawMessage
	Attempts    int
	NextAttempt time.Time
	DeadSince   time.Time
	Status      int
	Answer      string
	LastError   string
}

// Letter states.
const (
	LetterPending = "pending"
	LetterDead    = "dead"
)

// Letters lists the outbox and the dead letters, of one channel or of all (""), pending first,
// each in order.
func (f *File) Letters(channel string) ([]Letter, error) {
	var out []Letter
	err := f.view(func(tx *bolt.Tx) error {
		for _, state := range []string{LetterPending, LetterDead} {
			b := tx.Bucket(bucketOutbox)
			if state == LetterDead {
				b = tx.Bucket(bucketDead)
			}
			if b == nil { // a state file from before dead letters, opened read-only
				continue
			}
			prefix := []byte(nil)
			if channel != "" {
				prefix = channelPrefix(channel)
			}
			c := b.Cursor()
			for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
				l, err := letter(state, k, v)
				if err != nil {
					return err
				}
				out = append(out, l)
			}
		}
		return nil
	})
	return out, err
}

func letter(state string, k, v []byte) (Letter, error) {
	name, _, _ := strings.Cut(string(k), "\x00")
	l := Letter{Channel: name, State: state}
	if len(k) >= 8 {
		l.Seq = binary.BigEndian.Uint64(k[len(k)-8:])
	}
	if state == LetterPending {
		e, err := decodeEntry(v)
		if err != nil {
			l.LastError = err.Error() // listed as it is: the channel buries it when it reaches it
			return l, nil
		}
		l.Events, l.Attempts, l.NextAttempt, l.LastError = e.Events, e.Attempts, e.NextAttempt, e.LastError
		return l, nil
	}
	var d deadLetter
	if err := json.Unmarshal(v, &d); err != nil {
		l.LastError = fmt.Sprintf("a dead letter that cannot be read (%d bytes): %v", len(v), err)
		return l, nil
	}
	l.Events, l.Attempts, l.DeadSince, l.Status, l.Answer, l.LastError = d.Events, d.Attempts, d.At, d.Status, d.Answer, d.Error
	return l, nil
}

// Tally is what the outbox holds, per channel.
type Tally struct {
	Pending map[string]int       // undelivered events (an unreadable record counts as one)
	Dead    map[string]int       // dead letters
	Oldest  map[string]time.Time // when the oldest undelivered message was queued
}

// Counts tallies the outbox and the dead letters. A record that cannot be read is counted, not
// an error: the gauges must not read 0 while a channel is stuck behind it.
func (f *File) Counts() (Tally, error) {
	t := Tally{Pending: map[string]int{}, Dead: map[string]int{}, Oldest: map[string]time.Time{}}
	err := f.view(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			ch, _, _ := strings.Cut(string(k), "\x00")
			events, q, err := countEntry(v)
			if err != nil {
				t.Pending[ch]++
				return nil
			}
			t.Pending[ch] += events
			if t.Oldest[ch].IsZero() || q.Before(t.Oldest[ch]) {
				t.Oldest[ch] = q
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketDead).ForEach(func(k, _ []byte) error {
			ch, _, _ := strings.Cut(string(k), "\x00")
			t.Dead[ch]++
			return nil
		})
	})
	return t, err
}

// countEntry reads how many events a record holds and when it was queued: from its head, or by
// decoding one of the older form.
func countEntry(v []byte) (int, time.Time, error) {
	if len(v) > 0 && v[0] == entryFormat {
		events, queued, _, err := entryHead(v)
		return events, queued, err
	}
	e, err := decodeEntry(v)
	return len(e.Events), e.queued(), err
}
