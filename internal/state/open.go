package state

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OpenVersion is a version announced on a channel and not yet resolved.
type OpenVersion struct {
	// Key is the subject its events were logged under, for the versions present names; the
	// others' the caller knows from their bytes (the record keeps a hash of it, not the subject).
	Key string
	// Version and Shared are what was queued with its OpensVersion event; only for versions
	// present does not name (what the resolve stage describes).
	Version, Shared []byte
	Since           time.Time
	Severity        string
}

// OpenVersions lists a channel's announced, unresolved versions. Their bytes are read only for
// those present does not name: at 100,000 open versions a scan otherwise copied 70 MB, twice.
func (f *File) OpenVersions(channel string, present map[string]bool) ([]OpenVersion, error) {
	byHash := make(map[string]string, len(present))
	for subject := range present {
		byHash[string(subjectKey(channel, subject))] = subject
	}
	var out []OpenVersion
	err := f.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSubjects).Cursor()
		shared := tx.Bucket(bucketShared)
		prefix := channelPrefix(channel)
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			rec, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("channel %s: %w", channel, err)
			}
			if rec.since == 0 {
				continue
			}
			o := OpenVersion{Since: time.Unix(rec.since, 0).UTC(), Severity: rec.severity}
			if subject, ok := byHash[string(k)]; ok {
				o.Key = subject
			} else {
				o.Version, o.Shared = rec.version, sharedBytes(shared, rec.shared)
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
	err := f.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketBlind).Get([]byte(channel)); v != nil {
			out = append(json.RawMessage(nil), v...)
		}
		return nil
	})
	return out, err
}
