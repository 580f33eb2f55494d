// Package binrec reads and writes the fields of the state file's binary records (varints and
// length-prefixed bytes), for the packages that own each record's meaning: internal/state's
// subject records, notify's open versions, internal/deleters' deleters.
package binrec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort is a record that ends before its fields do.
var ErrShort = errors.New("a record cut short")

// AppendBytes writes b, length first.
func AppendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

// AppendString writes s, length first.
func AppendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// Reader reads a record's fields in order, remembering the first error: read every field, then
// ask Err once.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Len is how many bytes are left.
func (r *Reader) Len() int { return len(r.b) }

// Fail records err, unless an error came first.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Take reads n bytes (nil after an error); they alias the record.
func (r *Reader) Take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: a field of %d bytes with %d left", ErrShort, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if v := r.Take(1); v != nil {
		return v[0]
	}
	return 0
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = ErrShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = ErrShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Bytes reads what AppendBytes wrote; the bytes alias the record.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.b)) {
		r.Fail(fmt.Errorf("%w: a field of %d bytes with %d left", ErrShort, n, len(r.b)))
		return nil
	}
	return r.Take(int(n))
}

// String reads what AppendString wrote.
func (r *Reader) String() string { return string(r.Bytes()) }
