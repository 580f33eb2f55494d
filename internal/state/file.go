// Package state is purgewatch's state file: one bbolt database holding the notification log,
// the outbox, the dead letters, each channel's open versions and blind episode, its last sends,
// and the incremental scans' memory of the recycle bins. After Alertmanager's nflog it knows the
// shape of its records, not what an event means: events travel as the JSON notify gives it, each
// with the few facts (id, kind, subject, what it opens or closes) the log keeps.
package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The file's buckets. Keys are "channel\x00…", so one channel's records sort together.
var (
	// bucketSubjects is the notification log: channel\x00 + 12 bytes of SHA-256 of a subject → a
	// subjectRecord (subjects.go): the events queued about it (an event is logged when it is
	// queued, and never queued twice) and, while the version is open, what its resolution needs.
	bucketSubjects = []byte("subjects")
	// bucketShared holds what open versions share (their image definition's names), once: 8 bytes
	// of SHA-256 → how many records use it, and the bytes.
	bucketShared = []byte("shared")
	// bucketLog and bucketOpen are the log of files before subject records: channel\x00eventID →
	// logEntry, and channel\x00subject → openEntry. Migrate moves them into bucketSubjects.
	bucketLog = []byte("log")
	// bucketOutbox holds messages not yet delivered: channel\x00seq → outboxEntry, in order.
	bucketOutbox = []byte("outbox")
	bucketOpen   = []byte("open")
	// bucketBlind holds each channel's open blind episode: channel → the scan-failing event.
	bucketBlind = []byte("blind")
	// bucketDead holds the messages a receiver refused for good: channel\x00seq → deadLetter,
	// until `notify retry` queues them again.
	bucketDead = []byte("dead")
	// bucketSends holds each channel's last delivery and last failure: channel → Sends.
	bucketSends = []byte("sends")
	// bucketBins holds the incremental scans' memory of each recycle bin: image definition id →
	// the scanner's record (scanner.BinMemory). The scanner owns the bytes.
	bucketBins = []byte("bins")

	// bucketDeleters holds who deleted each soft-deleted version, from the Activity Log: 12 bytes
	// of SHA-256 of its id and deletion time → internal/deleters' record of it (hex keys and JSON
	// in files before, rewritten as they are read).
	bucketDeleters = []byte("deleters")
	// bucketSilences holds the silences: id → the silence's JSON (internal/silence owns it).
	bucketSilences = []byte("silences")
	// bucketSizes holds what each version's replicas hold, seen while it was live: 12 bytes of
	// SHA-256 of its id → the bytes, a varint (internal/retained; hex and decimal before).
	bucketSizes = []byte("sizes")
)

var buckets = [][]byte{bucketSubjects, bucketShared, bucketLog, bucketOutbox, bucketOpen, bucketBlind, bucketDead, bucketSends, bucketBins, bucketDeleters, bucketSilences, bucketSizes}

// File is the open state file.
type File struct {
	// mu guards db, which Compact replaces: every transaction holds it to read.
	mu   sync.RWMutex
	db   *bolt.DB
	path string
	// recovered is where a corrupt state file was moved aside at open; "" when it was sound.
	recovered string
}

// ErrHeld is returned when another process holds the state file's lock.
var ErrHeld = errors.New("another purgewatch holds it (only one process may use a state file)")

// lockWait is how long opening waits for another process to let go of the file.
const lockWait = time.Second

// Open opens (creating) the state file. A file that is not a sound bbolt database (wrong magic,
// bad checksum, unreadable pages) is moved aside to <path>.corrupt-<time> and replaced by an
// empty one: a repeated warning is better than none. Recovered says where it went.
func Open(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("notification state %s: %w", path, err)
	}
	db, err := openSound(path, false)
	var corrupt *corruptError
	if !errors.As(err, &corrupt) {
		if err != nil {
			return nil, err
		}
		return prepare(db, path, "")
	}
	aside := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return nil, fmt.Errorf("notification state %s is corrupt (%v) and cannot be moved aside: %w", path, corrupt.err, err)
	}
	if db, err = openSound(path, false); err != nil {
		return nil, err
	}
	return prepare(db, path, aside)
}

// OpenReadOnly opens the state file to read it, beside nothing that writes it: nil, nil when
// there is none yet; ErrHeld when a running purgewatch holds it.
func OpenReadOnly(path string) (*File, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := openSound(path, true)
	var corrupt *corruptError
	if errors.As(err, &corrupt) {
		return nil, fmt.Errorf("notification state %s is corrupt (%v): `purgewatch run` moves it aside and starts afresh", path, corrupt.err)
	}
	if err != nil {
		return nil, err
	}
	if err := db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLog, bucketOutbox, bucketOpen} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("bucket %s is missing: not a purgewatch state file", b)
			}
		}
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("reading notification state %s: %w", path, err)
	}
	return &File{db: db, path: path}, nil
}

// corruptError is a state file that is not a sound bbolt database.
type corruptError struct{ err error }

func (e *corruptError) Error() string { return "corrupt: " + e.err.Error() }

// openSound opens the file and reads every page of it once, so that corruption shows now as an
// error rather than later as a panic in the middle of a scan. bbolt panics on a page it cannot
// make sense of; that panic is caught here, and only here, and turned into a corruptError.
func openSound(path string, readOnly bool) (db *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, &corruptError{err: fmt.Errorf("%v", p)}
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait, ReadOnly: readOnly})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("notification state %s: %w", path, ErrHeld)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, &corruptError{err: err}
	case err != nil:
		return nil, fmt.Errorf("opening notification state %s: %w", path, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
	})
	if err != nil {
		_ = db.Close()
		return nil, &corruptError{err: err}
	}
	return db, nil
}

// walk reads every key of b and of the buckets nested in it.
func walk(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return walk(nested)
			}
		}
		return nil
	})
}

func prepare(db *bolt.DB, path, recovered string) (*File, error) {
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("preparing notification state %s: %w", path, err)
	}
	// After the write above, which is what makes bbolt count its free pages.
	if db, err = compactIfSparse(db, path); err != nil {
		if db != nil {
			_ = db.Close()
		}
		return nil, err
	}
	return &File{db: db, path: path, recovered: recovered}, nil
}

// Recovered is where a corrupt state file was moved aside when this one was opened; "" when the
// file was sound.
func (f *File) Recovered() string { return f.recovered }

// Path is the state file.
func (f *File) Path() string { return f.path }

// Close closes the file.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.db.Close()
}

func (f *File) view(fn func(*bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.View(fn)
}

func (f *File) update(fn func(*bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.db.Update(fn)
}

// Size is the state file's size in bytes: the pages in use and free, not what the file system
// preallocated beyond them.
func (f *File) Size() int64 {
	var size int64
	_ = f.view(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	return size
}

// Compact rewrites the file when a third of it or more is free pages, as at open: bbolt never
// gives pages back, and a first scan's outbox, or the copies its transactions make, leave the file
// at their high-water mark. Every other use of the file waits for it (under a second at 100,000
// versions). It returns the sizes before and after.
func (f *File) Compact() (before, after int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	before = dbSize(f.db)
	db, err := compactIfSparse(f.db, f.path)
	if db != nil {
		f.db = db
	}
	if err != nil {
		return before, before, err
	}
	if db == nil { // closed for the rename: open what is there, the old file or the new
		if f.db, err = bolt.Open(f.path, 0o600, &bolt.Options{Timeout: lockWait}); err != nil {
			return before, before, fmt.Errorf("compacting %s: opening it again: %w", f.path, err)
		}
	}
	return before, dbSize(f.db), nil
}

func dbSize(db *bolt.DB) int64 {
	var size int64
	_ = db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	return size
}

// sparse is when a file is worth rewriting: a third of it free, and at least 64 KiB.
func sparse(size, free int64) bool { return size >= 64<<10 && free*3 >= size }

// compactIfSparse rewrites the file when it is sparse (bbolt never gives pages back to the file
// system): after a prune, or a first scan's outbox, the file shrinks to what it holds. It
// returns the database to use from now on (nil when the file could not be opened again).
func compactIfSparse(db *bolt.DB, path string) (*bolt.DB, error) {
	size := dbSize(db)
	free := int64(db.Stats().FreeAlloc)
	if size == 0 || !sparse(size, free) {
		return db, nil
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

func seqKey(channel string, seq uint64) []byte {
	k := make([]byte, len(channel)+1+8)
	copy(k, channel)
	binary.BigEndian.PutUint64(k[len(channel)+1:], seq)
	return k
}

func channelPrefix(channel string) []byte { return []byte(channel + "\x00") }

func put(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

func get(b *bolt.Bucket, k []byte, v any) (bool, error) {
	data := b.Get(k)
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}
