package deleters

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/purgewatch/purgewatch/scanner"
)

// The state file's record of a deleter is bytes, not JSON: ids as their 16 bytes, the principal
// type and address as a byte or four, the time as a varint; about 100 bytes where the JSON took
// 280. A record of the older, JSON form is still read (it starts with '{'), and written anew.

const recordFormat = 1

var principalTypes = []string{"", "User", "ServicePrincipal", "ManagedIdentity"}

func (r record) encode() []byte {
	b := []byte{recordFormat, byte(r.Unknown)}
	if r.By == nil {
		return append(b, 0)
	}
	d := r.By
	b = append(b, 1)
	b = appendID(b, d.Caller)
	b = appendWord(b, d.PrincipalType)
	b = appendString(b, d.PrincipalName)
	b = appendID(b, d.AppID)
	b = appendID(b, d.ObjectID)
	if ip, err := netip.ParseAddr(d.ClientIP); err == nil && ip.String() == d.ClientIP {
		raw := ip.AsSlice()
		b = append(append(b, byte(len(raw))), raw...)
	} else {
		b = appendString(append(b, 0xff), d.ClientIP)
	}
	b = binary.AppendVarint(b, timeValue(d.At))
	return appendID(b, d.CorrelationID)
}

func timeValue(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// appendID writes a GUID as its 16 bytes when it reads back the same, else as a string.
func appendID(b []byte, s string) []byte {
	if id, err := uuid.Parse(s); err == nil && id.String() == s {
		return append(append(b, 16), id[:]...)
	}
	return appendString(append(b, 0), s)
}

func appendWord(b []byte, s string) []byte {
	for i, w := range principalTypes {
		if w == s {
			return append(b, byte(i))
		}
	}
	return appendString(append(b, 0xff), s)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

var errRecord = errors.New("a deleter record cut short or of another form")

// decodeRecord reads a record, of either form.
func decodeRecord(data []byte) (record, error) {
	var r record
	if len(data) > 0 && data[0] == '{' {
		err := json.Unmarshal(data, &r)
		return r, err
	}
	if len(data) < 3 || data[0] != recordFormat {
		return r, errRecord
	}
	r.Unknown = settled(data[1])
	if data[2] == 0 {
		return r, nil
	}
	rd := &reader{b: data[3:]}
	d := &scanner.Deletion{}
	d.Caller = rd.id()
	d.PrincipalType = rd.word()
	d.PrincipalName = rd.string()
	d.AppID = rd.id()
	d.ObjectID = rd.id()
	switch n := rd.byte(); n {
	case 4, 16:
		if raw := rd.take(int(n)); raw != nil {
			ip, _ := netip.AddrFromSlice(raw)
			d.ClientIP = ip.String()
		}
	default:
		d.ClientIP = rd.string()
	}
	if v := rd.varint(); v != 0 {
		d.At = time.Unix(0, v).UTC()
	}
	d.CorrelationID = rd.id()
	if rd.err != nil {
		return r, rd.err
	}
	r.By = d
	return r, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errRecord
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.take(int(r.uvarint()))) }

func (r *reader) id() string {
	if r.byte() == 16 {
		if raw := r.take(16); raw != nil {
			return uuid.UUID(raw).String()
		}
		return ""
	}
	return r.string()
}

func (r *reader) word() string {
	c := r.byte()
	if c == 0xff {
		return r.string()
	}
	if int(c) >= len(principalTypes) {
		r.err = errRecord
		return ""
	}
	return principalTypes[c]
}
