package notify

import (
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Sends is how a channel's deliveries have gone lately, for the status page: an on-call
// engineer asks "did Slack get the last one?" before "what is queued?".
type Sends struct {
	Channel string `json:"channel"`
	Type    string `json:"type,omitempty"`
	// LastDelivered is when a receiver last accepted a message, of LastDeliveredEvents events;
	// Delivered counts the messages accepted since the state file was made.
	LastDelivered       time.Time `json:"lastDelivered,omitzero"`
	LastDeliveredEvents int       `json:"lastDeliveredEvents,omitempty"`
	Delivered           int       `json:"delivered"`
	// LastFailed is the last attempt that failed (to be retried, or refused for good) and why.
	LastFailed time.Time `json:"lastFailed,omitzero"`
	LastError  string    `json:"lastError,omitempty"`
	// Pending and Dead count the channel's messages waiting and refused for good.
	Pending int `json:"pending"`
	Dead    int `json:"dead"`
}

// recordSend updates channel's record inside tx, beside the outcome it records.
func recordSend(tx *bolt.Tx, channel string, update func(*Sends)) error {
	b := tx.Bucket(bucketSends)
	var s Sends
	if _, err := get(b, []byte(channel), &s); err != nil {
		return err
	}
	s.Channel = channel
	update(&s)
	return put(b, []byte(channel), s)
}

// Sends reads every channel's record, with its pending and dead messages counted.
func (s *Store) Sends() (map[string]*Sends, error) {
	out := map[string]*Sends{}
	at := func(channel string) *Sends {
		if out[channel] == nil {
			out[channel] = &Sends{Channel: channel}
		}
		return out[channel]
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketSends); b != nil { // absent from an older file opened read-only
			if err := b.ForEach(func(k, v []byte) error {
				_, err := get(b, k, at(string(k)))
				return err
			}); err != nil {
				return err
			}
		}
		for _, c := range []struct {
			bucket []byte
			count  func(*Sends)
		}{{bucketOutbox, func(s *Sends) { s.Pending++ }}, {bucketDead, func(s *Sends) { s.Dead++ }}} {
			b := tx.Bucket(c.bucket)
			if b == nil {
				continue
			}
			if err := b.ForEach(func(k, _ []byte) error {
				c.count(at(channelOf(k)))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Sends is each configured channel's record, in configuration order, then any channel the state
// file still holds messages of (removed by a reload, its messages waiting).
func (n *Notifier) Sends() ([]Sends, error) {
	records, err := n.store.Sends()
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	channels := slices.Clone(n.s.Channels)
	n.mu.Unlock()
	var out []Sends
	for _, ch := range channels {
		s := Sends{Channel: ch.Name()}
		if r := records[ch.Name()]; r != nil {
			s = *r
			delete(records, ch.Name())
		}
		s.Type = ch.Type()
		out = append(out, s)
	}
	var rest []Sends
	for _, r := range records {
		if r.Pending+r.Dead > 0 {
			rest = append(rest, *r)
		}
	}
	slices.SortFunc(rest, func(a, b Sends) int { return strings.Compare(a.Channel, b.Channel) })
	return append(out, rest...), nil
}

// channelOf is the channel of a "channel\x00…" key.
func channelOf(k []byte) string {
	name, _, _ := strings.Cut(string(k), "\x00")
	return name
}
