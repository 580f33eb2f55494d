package notify

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/purgewatch/purgewatch/internal/binrec"
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
		shared = binrec.AppendString(shared, s)
	}
	own = append(own, openFormat)
	own = binrec.AppendString(own, v.Version)
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
		own = binrec.AppendString(append(own, 0), string(v.PurgeAtSource))
	}
	own = binary.AppendUvarint(own, uint64(max(v.RetainedBytes, 0)))
	return shared, own
}

// decodeOpen reads what encodeOpen wrote, or a version's JSON as older state files kept it.
func decodeOpen(shared, own []byte) (scanner.Version, error) {
	var v scanner.Version
	if len(own) > 0 && own[0] == '{' {
		err := json.Unmarshal(own, &v)
		return v, err
	}
	r := binrec.NewReader(shared)
	d := &scanner.Definition{SubscriptionID: r.String(), ResourceGroup: r.String(), Gallery: r.String(), Image: r.String()}
	v.Definition, v.Location = d, r.String()
	if who := r.String(); who != "" {
		v.DeletedBy = &scanner.Deletion{Caller: who}
	}
	v.DeletedByUnknown = r.String()
	if err := r.Err(); err != nil {
		return v, fmt.Errorf("its image definition: %w", err)
	}
	r = binrec.NewReader(own)
	if f := r.Byte(); f != openFormat {
		return v, fmt.Errorf("a version record of format %d", f)
	}
	v.Version = r.String()
	v.SoftDeletedAt = time.Unix(0, r.Varint()).UTC()
	for _, t := range []*time.Time{&v.ConsumptionEndsAt, &v.PurgeAt} {
		if n := r.Varint(); n != 0 {
			*t = time.UnixMilli(v.SoftDeletedAt.UnixMilli() + (n-1)/2).UTC()
		}
	}
	switch r.Byte() {
	case 1:
		v.PurgeAtSource = scanner.SourceService
	case 2:
		v.PurgeAtSource = scanner.SourceComputed
	default:
		v.PurgeAtSource = scanner.Source(r.String())
	}
	v.RetainedBytes = int64(r.Uvarint())
	if err := r.Err(); err != nil {
		return v, fmt.Errorf("the version record: %w", err)
	}
	return v, nil
}
