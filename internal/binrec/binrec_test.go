package binrec

import (
	"encoding/binary"
	"errors"
	"testing"
)

// Fields read back as written; a record cut anywhere is an error, never a panic or a wrong value
// taken for a right one.
func TestFieldsReadBackAndACutRecordIsAnError(t *testing.T) {
	b := AppendString(nil, "alice")
	b = binary.AppendVarint(b, -42)
	b = binary.AppendUvarint(b, 1<<40)
	b = AppendBytes(b, []byte{1, 2, 3})
	b = append(b, 7)
	r := NewReader(b)
	if s, v, u, raw, c := r.String(), r.Varint(), r.Uvarint(), r.Bytes(), r.Byte(); r.Err() != nil || s != "alice" || v != -42 || u != 1<<40 ||
		string(raw) != "\x01\x02\x03" || c != 7 || r.Len() != 0 {
		t.Fatalf("read %q %d %d %v %d (%v)", s, v, u, raw, c, r.Err())
	}
	for n := range len(b) {
		r := NewReader(b[:n])
		_ = r.String()
		r.Varint()
		r.Uvarint()
		r.Bytes()
		r.Byte()
		if !errors.Is(r.Err(), ErrShort) {
			t.Errorf("cut at %d: %v", n, r.Err())
		}
	}
	if r := NewReader(binary.AppendUvarint(nil, 1<<62)); r.Bytes() != nil || r.Err() == nil {
		t.Error("a length past the record was taken")
	}
}
