package deleters

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/purgewatch/purgewatch/internal/binrec"
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
	b = binrec.AppendString(b, d.PrincipalName)
	b = appendID(b, d.AppID)
	b = appendID(b, d.ObjectID)
	if ip, err := netip.ParseAddr(d.ClientIP); err == nil && ip.String() == d.ClientIP {
		raw := ip.AsSlice()
		b = append(append(b, byte(len(raw))), raw...)
	} else {
		b = binrec.AppendString(append(b, 0xff), d.ClientIP)
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
	return binrec.AppendString(append(b, 0), s)
}

func appendWord(b []byte, s string) []byte {
	for i, w := range principalTypes {
		if w == s {
			return append(b, byte(i))
		}
	}
	return binrec.AppendString(append(b, 0xff), s)
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
	rd := binrec.NewReader(data[3:])
	d := &scanner.Deletion{}
	d.Caller = readID(rd)
	d.PrincipalType = readWord(rd)
	d.PrincipalName = rd.String()
	d.AppID = readID(rd)
	d.ObjectID = readID(rd)
	switch n := rd.Byte(); n {
	case 4, 16:
		if raw := rd.Take(int(n)); raw != nil {
			ip, _ := netip.AddrFromSlice(raw)
			d.ClientIP = ip.String()
		}
	default:
		d.ClientIP = rd.String()
	}
	if v := rd.Varint(); v != 0 {
		d.At = time.Unix(0, v).UTC()
	}
	d.CorrelationID = readID(rd)
	if err := rd.Err(); err != nil {
		return r, fmt.Errorf("%w: %w", errRecord, err)
	}
	r.By = d
	return r, nil
}

func readID(r *binrec.Reader) string {
	if r.Byte() == 16 {
		if raw := r.Take(16); raw != nil {
			return uuid.UUID(raw).String()
		}
		return ""
	}
	return r.String()
}

func readWord(r *binrec.Reader) string {
	c := r.Byte()
	if c == 0xff {
		return r.String()
	}
	if int(c) >= len(principalTypes) {
		r.Fail(errRecord)
		return ""
	}
	return principalTypes[c]
}
