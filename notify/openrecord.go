package notify

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// What the log keeps of an open version, for the message that resolves it: its names, deadlines,
// size and deleter, in bytes, not JSON (the state file's weight is mostly open versions). Shared
// is what many versions have in common, kept once by the state file: subscription, resource
// group, gallery, image, location, and who deleted it (a pipeline deletes hundreds). Own is the
// rest: about 35 bytes.

// openFormat is the first byte of a version's own bytes; JSON (legacy files) starts with '{'.
const openFormat = 1

func encodeOpen(v scanner.Version) (shared, own []byte) {
	d := v.Definition
	if d == nil {
		d = &scanner.Definition{}
	}
	who := ""
	if v.DeletedBy != nil {
		who = v.DeletedBy.Who()
	}
	for _, s := range []string{d.SubscriptionID, d.ResourceGroup, d.Gallery, d.Image, v.Location, who, v.DeletedByUnknown} {
		shared = appendString(shared, s)
	}
	own = append(own, openFormat)
	own = appendString(own, v.Version)
	own = binary.AppendVarint(own, v.SoftDeletedAt.UnixNano())
	// The deadlines to the millisecond, after the deletion: what a message shows is minutes.
	for _, t := range []time.Time{v.ConsumptionEndsAt, v.PurgeAt} {
		if t.IsZero() {
			own = binary.AppendVarint(own, 0)
			continue
		}
		own = binary.AppendVarint(own, (t.UnixMilli()-v.SoftDeletedAt.UnixMilli())*2+1) // odd: set
	}
	switch v.PurgeAtSource {
	case scanner.SourceService:
		own = append(own, 1)
	case scanner.SourceComputed:
		own = append(own, 2)
	default:
		own = appendString(append(own, 0), string(v.PurgeAtSource))
	}
	own = binary.AppendUvarint(own, uint64(max(v.RetainedBytes, 0)))
	return shared, own
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeOpen reads what encodeOpen wrote, or a version's JSON as older state files kept it.
func decodeOpen(shared, own []byte) (scanner.Version, error) {
	var v scanner.Version
	if len(own) > 0 && own[0] == '{' {
		err := json.Unmarshal(own, &v)
		return v, err
	}
	r := &bytesReader{b: shared}
	d := &scanner.Definition{SubscriptionID: r.string(), ResourceGroup: r.string(), Gallery: r.string(), Image: r.string()}
	v.Definition, v.Location = d, r.string()
	if who := r.string(); who != "" {
		v.DeletedBy = &scanner.Deletion{Caller: who}
	}
	v.DeletedByUnknown = r.string()
	if r.err != nil {
		return v, fmt.Errorf("its image definition: %w", r.err)
	}
	r = &bytesReader{b: own}
	if f := r.byte(); f != openFormat {
		return v, fmt.Errorf("a version record of format %d", f)
	}
	v.Version = r.string()
	v.SoftDeletedAt = time.Unix(0, r.varint()).UTC()
	for _, t := range []*time.Time{&v.ConsumptionEndsAt, &v.PurgeAt} {
		if n := r.varint(); n != 0 {
			*t = time.UnixMilli(v.SoftDeletedAt.UnixMilli() + (n-1)/2).UTC()
		}
	}
	switch r.byte() {
	case 1:
		v.PurgeAtSource = scanner.SourceService
	case 2:
		v.PurgeAtSource = scanner.SourceComputed
	default:
		v.PurgeAtSource = scanner.Source(r.string())
	}
	v.RetainedBytes = int64(r.uvarint())
	if r.err != nil {
		return v, fmt.Errorf("the version record: %w", r.err)
	}
	return v, nil
}

// bytesReader reads encodeOpen's fields, remembering the first error.
type bytesReader struct {
	b   []byte
	err error
}

var errShort = errors.New("cut short")

func (r *bytesReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *bytesReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *bytesReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *bytesReader) string() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errShort
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
