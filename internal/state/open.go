package state

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

type openEntry struct {
	Version  json.RawMessage `json:"version"`
	Since    time.Time       `json:"since"`
	Severity string          `json:"severity"`
}

// openHead is an openEntry read without its version: decoding skips the object, copying nothing.
type openHead struct {
	Since    time.Time `json:"since"`
	Severity string    `json:"severity"`
}

// OpenVersion is a version announced on a channel and not yet resolved.
type OpenVersion struct {
	Key      string          // the subject its events were logged under
	Raw      json.RawMessage // the version's JSON; only for versions present does not hold
	Since    time.Time
	Severity string
}

// OpenVersions lists a channel's announced, unresolved versions. The version's JSON is read only
// for those present does not hold (what the resolve stage describes): at 100,000 open versions a
// scan otherwise copied 70 MB of it, twice.
func (f *File) OpenVersions(channel string, present map[string]bool) ([]OpenVersion, error) {
	var out []OpenVersion
	err := f.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOpen).Cursor()
		prefix := channelPrefix(channel)
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			o := OpenVersion{Key: string(k[len(prefix):])}
			if present[o.Key] {
				var h openHead
				if err := json.Unmarshal(v, &h); err != nil {
					return fmt.Errorf("open version %q: %w", k, err)
				}
				o.Since, o.Severity = h.Since, h.Severity
			} else {
				var e openEntry
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("open version %q: %w", k, err)
				}
				o.Raw, o.Since, o.Severity = e.Version, e.Since, e.Severity
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// BlindEpisode returns the channel's open scan-failing event as it was queued, or nil.
func (f *File) BlindEpisode(channel string) (json.RawMessage, error) {
	var out json.RawMessage
	err := f.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketBlind).Get([]byte(channel)); v != nil {
			out = append(json.RawMessage(nil), v...)
		}
		return nil
	})
	return out, err
}
