// Package retained remembers what each image version holds in its replicas while it is live, so
// that once it is soft-deleted purgewatch can say what keeping it costs: one replica per region
// stays billed until the purge, and the recycle bin does not say how large a version is.
package retained

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/scanner"
)

// Store keeps the sizes across restarts: the state file.
type Store interface {
	LoadSizes() (map[string][]byte, error)
	SaveSizes(put map[string][]byte, drop []string) error
}

// key is 12 bytes of SHA-256 of a version's lower-cased id: its weight in memory and on disk.
type key [12]byte

func keyOf(id string) key {
	sum := sha256.Sum256([]byte(strings.ToLower(id)))
	return key(sum[:12])
}

// Memory is the sizes seen. It is used by one scan at a time.
type Memory struct {
	store  Store // nil: for the process only
	log    *zap.Logger
	known  map[key]int64
	loaded bool
	// older are records of the form before keys were bytes and sizes varints (hex, decimal): the
	// next save writes them anew and drops these keys.
	older []string
}

// The state file's record of a size: the key's 12 bytes, and the size as a varint (5 bytes for a
// 64 GB image, where hex and decimal took 35).
func storeKey(k key) string { return string(k[:]) }

func storeValue(n int64) []byte { return binary.AppendUvarint(nil, uint64(max(n, 0))) }

// New returns a Memory kept in store (nil for none).
func New(store Store, log *zap.Logger) *Memory {
	if log == nil {
		log = zap.NewNop()
	}
	return &Memory{store: store, log: log, known: map[key]int64{}}
}

// Mark remembers live, the sizes of the live versions read this scan (by lower-cased id; nil
// when nothing was read), sets RetainedBytes on every version of snap whose size is known, and
// forgets the versions that are neither live nor in a recycle bin any more. With nothing read
// live (the audit off or failed), it forgets nothing.
func (m *Memory) Mark(snap *scanner.Snapshot, live map[string]int64) {
	if snap == nil {
		return
	}
	m.load()
	put := map[string][]byte{}
	keep := make(map[key]bool, len(live)+len(snap.Versions))
	for id, n := range live {
		k := keyOf(id)
		keep[k] = true
		if m.known[k] != n {
			m.known[k] = n
			put[storeKey(k)] = storeValue(n)
		}
	}
	for i := range snap.Versions {
		v := &snap.Versions[i]
		k := keyOf(v.ID())
		keep[k] = true
		v.RetainedBytes = m.known[k]
	}
	var drop []string
	if live != nil {
		for k := range m.known {
			if !keep[k] {
				delete(m.known, k)
				drop = append(drop, storeKey(k))
			}
		}
	}
	for _, h := range m.older {
		if raw, err := hex.DecodeString(h); err == nil {
			if n, ok := m.known[key(raw)]; ok {
				put[storeKey(key(raw))] = storeValue(n)
			}
		}
		drop = append(drop, h)
	}
	m.older = nil
	if m.store != nil && len(put)+len(drop) > 0 {
		if err := m.store.SaveSizes(put, drop); err != nil {
			m.log.Warn("cannot remember the versions' sizes in the state file; what a deleted one retains is unknown after a restart", zap.Error(err))
		}
	}
}

func (m *Memory) load() {
	if m.loaded || m.store == nil {
		m.loaded = true
		return
	}
	m.loaded = true
	stored, err := m.store.LoadSizes()
	if err != nil {
		m.log.Warn("cannot read the versions' sizes from the state file", zap.Error(err))
		return
	}
	for k, v := range stored {
		if len(k) == len(key{}) {
			n, w := binary.Uvarint(v)
			if w <= 0 {
				m.log.Warn("an unreadable size record; forgotten")
				continue
			}
			m.known[key([]byte(k))] = int64(n)
			continue
		}
		raw, err1 := hex.DecodeString(k) // the older form
		n, err2 := strconv.ParseInt(string(v), 10, 64)
		if err1 != nil || err2 != nil || len(raw) != len(key{}) {
			m.log.Warn("an unreadable size record; forgotten", zap.String("key", k))
			continue
		}
		m.known[key(raw)] = n
		m.older = append(m.older, k)
	}
}
