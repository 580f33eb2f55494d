package state

import (
	"fmt"
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

// Sends reads every channel's record.
func (f *File) Sends() (map[string]*Sends, error) {
	out := map[string]*Sends{}
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSends)
		if b == nil { // absent from an older file opened read-only
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			rec := &Sends{}
			if _, err := get(b, k, rec); err != nil {
				return fmt.Errorf("channel %q's record: %w", k, err)
			}
			out[string(k)] = rec
			return nil
		})
	})
	return out, err
}
