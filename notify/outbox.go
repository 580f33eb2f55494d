package notify

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// deadLetter is a message a receiver refused for good (a 4xx other than 408 and 429): kept with
// the receiver's answer until someone fixes the receiver and runs `notify retry`.
type deadLetter struct {
	Events   []Event   `json:"events"`
	At       time.Time `json:"at"`
	Attempts int       `json:"attempts"`
	Status   int       `json:"status,omitempty"`
	Answer   string    `json:"answer,omitempty"`
	Error    string    `json:"error"`
}

// bury moves the head of a channel's outbox to its dead letters, in one transaction.
func (s *Store) bury(channel string, p *pending, at time.Time, status int, answer, cause string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketOutbox).Delete(p.key); err != nil {
			return err
		}
		dead := tx.Bucket(bucketDead)
		seq, err := dead.NextSequence()
		if err != nil {
			return err
		}
		if err := put(dead, seqKey(channel, seq), deadLetter{Events: p.Events, At: at, Attempts: p.Attempts + 1,
			Status: status, Answer: answer, Error: cause}); err != nil {
			return err
		}
		return recordSend(tx, channel, func(s *Sends) { s.LastFailed, s.LastError = at, cause })
	})
}

// Requeue moves a channel's dead letters back to the end of its outbox, due at once; it returns
// how many messages it moved.
func (s *Store) Requeue(channel string, now time.Time) (int, error) {
	moved := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		dead, out := tx.Bucket(bucketDead), tx.Bucket(bucketOutbox)
		prefix := channelPrefix(channel)
		c := dead.Cursor()
		var keys [][]byte
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			var d deadLetter
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("dead letter %q: %w", k, err)
			}
			seq, err := out.NextSequence()
			if err != nil {
				return err
			}
			if err := put(out, seqKey(channel, seq), outboxEntry{Events: d.Events, NextAttempt: now}); err != nil {
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

// Letter is one message waiting in the outbox (State "pending") or refused for good ("dead"), as
// `notify outbox`, the status page and /api/v1/outbox show it.
type Letter struct {
	Channel string `json:"channel"`
	State   string `json:"state"`
	Seq     uint64 `json:"seq"`
	// Versions names what the message is about: gallery/image/version, or "scan" for blindness.
	Versions    []string  `json:"versions"`
	Events      int       `json:"events"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	DeadSince   time.Time `json:"deadSince,omitzero"`
	Status      int       `json:"status,omitempty"`
	Answer      string    `json:"answer,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
}

// Letter states.
const (
	LetterPending = "pending"
	LetterDead    = "dead"
)

// Letters lists the outbox and the dead letters, of one channel or of all ("" ), pending first,
// each in order.
func (s *Store) Letters(channel string) ([]Letter, error) {
	var out []Letter
	err := s.db.View(func(tx *bolt.Tx) error {
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
	var events []Event
	if state == LetterPending {
		var e outboxEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return l, fmt.Errorf("outbox entry %q: %w", k, err)
		}
		events, l.Attempts, l.NextAttempt, l.LastError = e.Events, e.Attempts, e.NextAttempt, e.LastError
	} else {
		var d deadLetter
		if err := json.Unmarshal(v, &d); err != nil {
			return l, fmt.Errorf("dead letter %q: %w", k, err)
		}
		events, l.Attempts, l.DeadSince, l.Status, l.Answer, l.LastError = d.Events, d.Attempts, d.At, d.Status, d.Answer, d.Error
	}
	l.Events = len(events)
	for _, e := range events {
		name := "scan"
		if e.Scan == nil {
			name = e.Version.Gallery + "/" + e.Version.Image + "/" + e.Version.Version
		}
		if !contains(l.Versions, name) {
			l.Versions = append(l.Versions, name)
		}
	}
	return l, nil
}

// counts returns, per channel, the undelivered events in the outbox and the dead messages.
func (s *Store) counts() (pending, dead map[string]int, err error) {
	pending, dead = map[string]int{}, map[string]int{}
	err = s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var e outboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			ch, _, _ := strings.Cut(string(k), "\x00")
			pending[ch] += len(e.Events)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketDead).ForEach(func(k, _ []byte) error {
			ch, _, _ := strings.Cut(string(k), "\x00")
			dead[ch]++
			return nil
		})
	})
	return pending, dead, err
}

// Letters lists the messages waiting and the dead letters, of one channel or of all ("").
func (n *Notifier) Letters(channel string) ([]Letter, error) { return n.store.Letters(channel) }

// Retry queues a channel's dead letters again, at the end of its outbox, and wakes its worker.
func (n *Notifier) Retry(channel string) (int, error) {
	n.mu.Lock()
	known := n.channel(channel) != nil
	n.mu.Unlock()
	if !known {
		return 0, fmt.Errorf("no channel named %q (notify.channels)", channel)
	}
	moved, err := n.store.Requeue(channel, n.clock.Now())
	if err != nil {
		return 0, fmt.Errorf("re-queuing the dead letters of %s: %w", channel, err)
	}
	n.lane(channel).poke()
	n.updateGauges()
	return moved, nil
}

// Recovered is where a corrupt state file was moved aside at start, or "".
func (n *Notifier) Recovered() string { return n.store.Recovered() }
