package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// replicated are the buckets a replicated notification log (internal/ha) carries from one
// leader to the next: what was sent and is waiting, and the silences. The scans' memories (bins,
// deleters, sizes) are each replica's own: every replica scans.
var replicated = [][]byte{bucketSubjects, bucketShared, bucketLog, bucketOutbox, bucketOpen, bucketBlind, bucketDead, bucketSends, bucketSilences}

// Seq is the message's place in its channel's outbox: what a replicated log names it by.
func (p *Pending) Seq() uint64 {
	if len(p.key) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(p.key[len(p.key)-8:])
}

// PendingAt reads the channel's message at seq, as Head would; nil when there is none.
func (f *File) PendingAt(channel string, seq uint64) (*Pending, error) {
	var p *Pending
	err := f.view(func(tx *bolt.Tx) error {
		k := seqKey(channel, seq)
		v := tx.Bucket(bucketOutbox).Get(k)
		if v == nil {
			return nil
		}
		p = pendingOf(append([]byte(nil), k...), v)
		return nil
	})
	return p, err
}

// Dump writes the replicated buckets: per bucket its name and sequence, then each key and value,
// length-prefixed; an empty name ends it. Load reads it back.
func (f *File) Dump(w io.Writer) error {
	bw := bufio.NewWriter(w)
	err := f.view(func(tx *bolt.Tx) error {
		for _, name := range replicated {
			b := tx.Bucket(name)
			if err := writeField(bw, name); err != nil {
				return err
			}
			if err := writeUvarint(bw, b.Sequence()); err != nil {
				return err
			}
			if err := b.ForEach(func(k, v []byte) error {
				if err := writeField(bw, k); err != nil {
					return err
				}
				return writeField(bw, v)
			}); err != nil {
				return err
			}
			if err := writeField(bw, nil); err != nil { // the bucket's end
				return err
			}
		}
		return writeField(bw, nil)
	})
	if err != nil {
		return fmt.Errorf("dumping the notification log: %w", err)
	}
	return bw.Flush()
}

// loadChunk bounds the keys one transaction of Load writes, as enqueueChunk does.
const loadChunk = 5000

// Load replaces the replicated buckets with what Dump wrote. It is not atomic: a Load that fails
// leaves them part-written, and the caller loads again before it uses them.
func (f *File) Load(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		name, err := readField(br)
		if err != nil {
			return fmt.Errorf("loading the notification log: %w", err)
		}
		if len(name) == 0 {
			return nil
		}
		if !isReplicated(name) {
			return fmt.Errorf("loading the notification log: bucket %q is not one it carries", name)
		}
		seq, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("loading the notification log: bucket %s: %w", name, err)
		}
		if err := f.update(func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
			b, err := tx.CreateBucket(name)
			if err != nil {
				return err
			}
			return b.SetSequence(seq)
		}); err != nil {
			return fmt.Errorf("loading the notification log: bucket %s: %w", name, err)
		}
		for done := false; !done; {
			err := f.update(func(tx *bolt.Tx) error {
				b := tx.Bucket(name)
				for range loadChunk {
					k, err := readField(br)
					if err != nil {
						return err
					}
					if len(k) == 0 {
						done = true
						return nil
					}
					v, err := readField(br)
					if err != nil {
						return err
					}
					if err := b.Put(k, v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("loading the notification log: bucket %s: %w", name, err)
			}
		}
	}
}

func isReplicated(name []byte) bool {
	for _, b := range replicated {
		if string(b) == string(name) {
			return true
		}
	}
	return false
}

// maxField bounds one key or value read back: a dump that says more is not one.
const maxField = 64 << 20

func writeUvarint(w *bufio.Writer, n uint64) error {
	var buf [binary.MaxVarintLen64]byte
	_, err := w.Write(buf[:binary.PutUvarint(buf[:], n)])
	return err
}

func writeField(w *bufio.Writer, b []byte) error {
	if err := writeUvarint(w, uint64(len(b))); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readField(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if n > maxField {
		return nil, fmt.Errorf("a field of %d bytes: not a notification log", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Reset empties the replicated buckets: a log that starts from no snapshot starts from nothing.
func (f *File) Reset() error {
	return f.update(func(tx *bolt.Tx) error {
		for _, name := range replicated {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("emptying %s: %w", name, err)
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("emptying %s: %w", name, err)
			}
		}
		return nil
	})
}
