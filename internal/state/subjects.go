package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/purgewatch/purgewatch/internal/binrec"
)

// A subject record is everything the log knows of one subject (a soft deletion of a version, a
// blind episode, a digest) on one channel, in one bbolt value: the events queued about it, and
// while the version is open (announced, not yet resolved) when it was first announced, its
// severity and what the resolution message needs of it. Binary, because at 100,000 versions the
// JSON of one log entry per event and one open entry per version weighed 2.7 KB a version
// (docs/benchmarks.md says what each byte of this one is for).
type subjectRecord struct {
	since    int64 // unix seconds when first announced; 0: not open
	severity string
	shared   []byte // the key of the bytes it shares with other versions (bucketShared); nil: none
	version  []byte // the version's own bytes, notify's to read
	events   []loggedEvent
}

// loggedEvent is one event queued on the channel, and when it was delivered.
type loggedEvent struct {
	id                string
	kind              string
	queued, delivered int64 // unix seconds; delivered 0 until it is
}

// recordFormat is the first byte of a subject record.
const recordFormat = 2

// Words the records spell with one byte: the kinds and severities notify uses today. Another is
// written out, so the file needs no change when notify gains a kind.
var words = []string{"", "deleted", "expiring", "unusable", "resolved", "scan-failing", "scan-recovered", "digest",
	"warning", "critical", "info"}

func subjectKey(channel, subject string) []byte {
	h := sha256.Sum256([]byte(subject))
	return append(channelPrefix(channel), h[:12]...)
}

func (r *subjectRecord) encode() []byte {
	b := make([]byte, 0, 32+len(r.version)+len(r.events)*20)
	b = append(b, recordFormat)
	b = binary.AppendUvarint(b, uint64(r.since))
	b = appendWord(b, r.severity)
	b = appendBytes(b, r.shared)
	b = appendBytes(b, r.version)
	b = binary.AppendUvarint(b, uint64(len(r.events)))
	for _, e := range r.events {
		if raw, err := hex.DecodeString(e.id); err == nil && len(raw) == 12 && hex.EncodeToString(raw) == e.id {
			b = append(b, 1) // notify's ids: 12 bytes of a hash, in hex
			b = append(b, raw...)
		} else {
			b = append(b, 0)
			b = appendBytes(b, []byte(e.id))
		}
		b = appendWord(b, e.kind)
		b = binary.AppendUvarint(b, uint64(e.queued))
		delivered := uint64(0) // not yet; else 1 + seconds after it was queued
		if e.delivered != 0 {
			delivered = uint64(max(e.delivered-e.queued, 0)) + 1
		}
		b = binary.AppendUvarint(b, delivered)
	}
	return b
}

func appendWord(b []byte, w string) []byte {
	for i, known := range words {
		if known == w {
			return append(b, byte(i))
		}
	}
	return appendBytes(append(b, 0xff), []byte(w))
}

func appendBytes(b, v []byte) []byte { return binrec.AppendBytes(b, v) }

func readWord(r *binrec.Reader) string {
	c := r.Byte()
	if c == 0xff {
		return r.String()
	}
	if int(c) >= len(words) {
		r.Fail(fmt.Errorf("an unknown word %d", c))
		return ""
	}
	return words[c]
}

// decodeRecord reads a record; its byte slices are copies, safe after the transaction.
func decodeRecord(v []byte) (subjectRecord, error) {
	r := binrec.NewReader(v)
	var rec subjectRecord
	if f := r.Byte(); r.Err() == nil && f != recordFormat {
		return rec, fmt.Errorf("a subject record of format %d", f)
	}
	rec.since = int64(r.Uvarint())
	rec.severity = readWord(r)
	rec.shared = clone(r.Bytes())
	rec.version = clone(r.Bytes())
	n := r.Uvarint()
	if r.Err() == nil && n > uint64(r.Len()) {
		r.Fail(fmt.Errorf("%d events in %d bytes", n, r.Len()))
	}
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		var e loggedEvent
		switch r.Byte() {
		case 1:
			e.id = hex.EncodeToString(r.Take(12))
		default:
			e.id = r.String()
		}
		e.kind = readWord(r)
		e.queued = int64(r.Uvarint())
		if d := r.Uvarint(); d != 0 {
			e.delivered = e.queued + int64(d) - 1
		}
		rec.events = append(rec.events, e)
	}
	if err := r.Err(); err != nil {
		return rec, fmt.Errorf("an unreadable subject record (%d bytes): %w", len(v), err)
	}
	return rec, nil
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func (r *subjectRecord) event(id string) *loggedEvent {
	for i := range r.events {
		if r.events[i].id == id {
			return &r.events[i]
		}
	}
	return nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// records is a transaction's view of the subject records it touches: each read once, written
// once at flush.
type records struct {
	b       *bolt.Bucket
	shared  *bolt.Bucket
	cache   map[string]*subjectRecord
	changed map[string]bool
}

func newRecords(tx *bolt.Tx) *records {
	return &records{b: tx.Bucket(bucketSubjects), shared: tx.Bucket(bucketShared), cache: map[string]*subjectRecord{}, changed: map[string]bool{}}
}

// get returns the record at k, empty when there is none.
func (rs *records) get(k []byte) (*subjectRecord, error) {
	if r, ok := rs.cache[string(k)]; ok {
		return r, nil
	}
	r := &subjectRecord{}
	if v := rs.b.Get(k); v != nil {
		rec, err := decodeRecord(v)
		if err != nil {
			return nil, err
		}
		r = &rec
	}
	rs.cache[string(k)] = r
	return r, nil
}

func (rs *records) put(k []byte) { rs.changed[string(k)] = true }

func (rs *records) flush() error {
	for k := range rs.changed {
		if err := rs.b.Put([]byte(k), rs.cache[k].encode()); err != nil {
			return err
		}
	}
	return nil
}

// share keeps bytes many open versions share (their image definition) once, counted: it returns
// their key.
func (rs *records) share(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	h := sha256.Sum256(data)
	k := h[:8]
	n := uint64(0)
	if v := rs.shared.Get(k); v != nil {
		c, w := binary.Uvarint(v)
		if w <= 0 {
			return nil, errors.New("an unreadable shared record")
		}
		n = c
	}
	return k, rs.shared.Put(k, appendBytes(binary.AppendUvarint(nil, n+1), data))
}

// unshare drops one use of the shared bytes at k, and them with the last.
func (rs *records) unshare(k []byte) error {
	if k == nil {
		return nil
	}
	v := rs.shared.Get(k)
	if v == nil {
		return nil
	}
	n, w := binary.Uvarint(v)
	if w <= 0 || n <= 1 {
		return rs.shared.Delete(k)
	}
	return rs.shared.Put(k, append(binary.AppendUvarint(nil, n-1), v[w:]...))
}

// sharedBytes reads the shared bytes at k.
func sharedBytes(b *bolt.Bucket, k []byte) []byte {
	if k == nil {
		return nil
	}
	v := b.Get(k)
	if v == nil {
		return nil
	}
	r := binrec.NewReader(v)
	r.Uvarint()
	return clone(r.Bytes())
}
