package notify

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// subject names what an event is about, for pruning: a soft deletion of a version, or a blind
// episode.
func subject(e Event) string {
	if e.Scan != nil {
		return blindKey(e.Scan.Since)
	}
	return versionKey(e.Version)
}

// prune forgets what was resolved more than keep before now: every log entry of a version (or a
// blind episode) whose resolution was queued that long ago, on that channel. Such a version has
// left the bin, so no event about it can come again; the log then holds what is still in the
// bins and what left recently. The log is read in a read transaction, so that the writers
// (queuing, delivery) wait only for the deletes. An entry that cannot be decoded is left alone
// and counted. It returns how many entries it removed.
func (s *Store) prune(now time.Time, keep time.Duration) (removed, unreadable int, err error) {
	var doomed [][]byte
	err = s.db.View(func(tx *bolt.Tx) error {
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
			ch, _, _ := strings.Cut(string(k), "\x00")
			subj := ch + "\x00" + le.about()
			if le.kind() == KindResolved && now.Sub(le.QueuedAt) > keep {
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
	// A version resolved long ago gets no new entries, so what was read is still what to delete.
	err = s.db.Update(func(tx *bolt.Tx) error {
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

// Size is the state file's size in bytes.
func (s *Store) Size() int64 {
	var size int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	return size
}

// compactIfSparse rewrites the file when more than half of it is free pages (bbolt never gives
// pages back to the file system): after a prune, the file shrinks to what it holds. It runs at
// open, before anything else uses the database, and replaces db.
func compactIfSparse(db *bolt.DB, path string) (*bolt.DB, error) {
	var size int64
	err := db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	free := int64(db.Stats().FreeAlloc)
	if err != nil || size == 0 || free*2 <= size {
		return db, err
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockWait})
	if err != nil {
		return db, fmt.Errorf("compacting %s: %w", path, err)
	}
	if err := bolt.Compact(dst, db, 64<<20); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return db, fmt.Errorf("compacting %s: %w", path, err)
	}
	if err := dst.Close(); err != nil {
		return db, fmt.Errorf("compacting %s: %w", path, err)
	}
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("compacting %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("compacting %s: %w", path, err)
	}
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
}

// pruneEvery is how often the log is pruned: often enough to stay small, rarely enough that
// reading the whole log is no cost.
const pruneEvery = time.Hour

// forget prunes the log when pruneEvery has passed since the last time, and says so.
func (n *Notifier) forget() {
	now := n.clock.Now()
	n.mu.Lock()
	keep, due := n.s.Keep, now.Sub(n.pruned) >= pruneEvery
	if due {
		n.pruned = now
	}
	n.mu.Unlock()
	if !due || keep <= 0 {
		return
	}
	removed, unreadable, err := n.store.prune(now, keep)
	if err != nil {
		n.log.Error("pruning the notification log", zap.Error(err))
		return
	}
	if unreadable > 0 {
		n.log.Error("notification log entries cannot be decoded; they are kept, and never pruned", zap.Int("entries", unreadable))
	}
	if removed > 0 {
		n.log.Info("pruned the notification log", zap.Int("entries", removed), zap.Duration("keep", keep))
	}
	n.updateGauges()
}
