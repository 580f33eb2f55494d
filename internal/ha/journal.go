package ha

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
)

// The blobs in the container. The log blob is the one leased: holding its lease is leading, and
// every write to it names the lease, so a deposed leader's write is refused by Azure itself.
const (
	logBlob        = "purgewatch/log"
	snapshotPrefix = "purgewatch/snapshot-"
	// Metadata on the log blob: the snapshot its records start from, and who leads.
	metaSnapshot = "snapshot"
	metaHolder   = "holder"
)

// maxRecord is the most one record holds: an append block is at most 4 MiB, and a record is
// one block, so a crash never leaves half of one.
const maxRecord = 4<<20 - 4

// maxBlocks is when the log is compacted at the latest: Azure takes 50,000 blocks in an append blob.
const maxBlocks = 40000

// Journal is the notification log as replicas share it: an append blob of records, each one
// block (a 4-byte length, then the record), starting from a snapshot blob its metadata names.
type Journal struct {
	c       *container.Client
	blob    *appendblob.Client
	leaseID string
	holder  string

	// Where the log stands, as this leader wrote it: the append position, the blocks, and the
	// snapshot it starts from with its size.
	size, snapshotSize int64
	blocks             int
	snapshot           string
}

// NewJournal is the journal in c, written under leaseID by holder.
func NewJournal(c *container.Client, leaseID, holder string) *Journal {
	return &Journal{c: c, blob: c.NewAppendBlobClient(logBlob), leaseID: leaseID, holder: holder}
}

// ensure creates the log blob unless it is there: a lease needs a blob.
func (j *Journal) ensure(ctx context.Context) error {
	_, err := j.blob.Create(ctx, &appendblob.CreateOptions{
		AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: to.Ptr(azcore.ETagAny)}},
	})
	if err == nil || bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet, bloberror.LeaseIDMissing) {
		return nil
	}
	return fmt.Errorf("creating %s: %w", logBlob, err)
}

// Contents are the log as read: the snapshot's bytes (nil before the first) and the records.
type Contents struct {
	Snapshot []byte
	Records  [][]byte
	Bytes    int64
}

// Read reads the whole log, under the lease (a standby may read too: reads need no lease).
func (j *Journal) Read(ctx context.Context) (*Contents, error) {
	resp, err := j.blob.DownloadStream(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", logBlob, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", logBlob, err)
	}
	c := &Contents{Bytes: int64(len(body))}
	for rest := body; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%s: %d bytes at its end are not a record", logBlob, len(rest))
		}
		n := int(binary.BigEndian.Uint32(rest))
		if n > len(rest)-4 {
			return nil, fmt.Errorf("%s: a record of %d bytes at offset %d runs past its end", logBlob, n, len(body)-len(rest))
		}
		c.Records, rest = append(c.Records, rest[4:4+n]), rest[4+n:]
	}
	j.size, j.blocks = int64(len(body)), len(c.Records)
	j.snapshot = ""
	if name := meta(resp.Metadata, metaSnapshot); name != "" {
		j.snapshot = name
		snap, err := j.c.NewBlobClient(name).DownloadStream(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("reading the snapshot %s: %w", name, err)
		}
		c.Snapshot, err = io.ReadAll(snap.Body)
		_ = snap.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the snapshot %s: %w", name, err)
		}
		j.snapshotSize = int64(len(c.Snapshot))
		c.Bytes += j.snapshotSize
	}
	return c, nil
}

// Append adds one record, conditioned on the lease and on the log's length, so a retry of an
// append that landed is refused rather than written twice.
func (j *Journal) Append(ctx context.Context, record []byte) error {
	if len(record) > maxRecord {
		return fmt.Errorf("a record of %d bytes: more than one append block holds", len(record))
	}
	frame := make([]byte, 4+len(record))
	binary.BigEndian.PutUint32(frame, uint32(len(record)))
	copy(frame[4:], record)
	_, err := j.blob.AppendBlock(ctx, streaming.NopCloser(bytes.NewReader(frame)), &appendblob.AppendBlockOptions{
		AccessConditions:               j.leased(),
		AppendPositionAccessConditions: &appendblob.AppendPositionAccessConditions{AppendPosition: to.Ptr(j.size)},
	})
	if bloberror.HasCode(err, bloberror.AppendPositionConditionNotMet) {
		// A retry of an append that landed, or another writer: only the length tells which.
		props, perr := j.blob.GetProperties(ctx, &blob.GetPropertiesOptions{AccessConditions: j.leased()})
		if perr == nil && props.ContentLength != nil && *props.ContentLength == j.size+int64(len(frame)) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("appending to %s: %w", logBlob, err)
	}
	j.size += int64(len(frame))
	j.blocks++
	return nil
}

// due says whether the log should be compacted: it nears Azure's block limit, or the records
// outweigh the snapshot enough that a takeover reads mostly history.
func (j *Journal) due() bool {
	return j.blocks >= maxBlocks || (j.size > 8<<20 && j.size > 2*j.snapshotSize)
}

// Compact starts the log afresh from snapshot: the snapshot goes to a blob of its own, then the
// log blob is created anew naming it, under the lease, in one write. A crash between the two
// leaves the old log whole; the stray snapshot is deleted by the next compaction's end.
func (j *Journal) Compact(ctx context.Context, snapshot []byte) error {
	name := snapshotPrefix + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := j.c.NewBlockBlobClient(name).UploadBuffer(ctx, snapshot, nil); err != nil {
		return fmt.Errorf("writing the snapshot %s: %w", name, err)
	}
	if _, err := j.blob.Create(ctx, &appendblob.CreateOptions{AccessConditions: j.leased(),
		Metadata: map[string]*string{metaSnapshot: to.Ptr(name), metaHolder: to.Ptr(j.holder)}}); err != nil {
		_, _ = j.c.NewBlobClient(name).Delete(ctx, nil)
		return fmt.Errorf("starting %s afresh: %w", logBlob, err)
	}
	old := j.snapshot
	j.snapshot, j.snapshotSize, j.size, j.blocks = name, int64(len(snapshot)), 0, 0
	if old != "" {
		if _, err := j.c.NewBlobClient(old).Delete(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
			return fmt.Errorf("deleting the old snapshot %s: %w", old, err)
		}
	}
	return nil
}

// claim names this replica as the holder, keeping the snapshot the log starts from.
func (j *Journal) claim(ctx context.Context) error {
	md := map[string]*string{metaHolder: to.Ptr(j.holder)}
	if j.snapshot != "" {
		md[metaSnapshot] = to.Ptr(j.snapshot)
	}
	_, err := j.blob.SetMetadata(ctx, md, &blob.SetMetadataOptions{AccessConditions: j.leased()})
	if err != nil {
		return fmt.Errorf("naming the holder on %s: %w", logBlob, err)
	}
	return nil
}

// Holder is who the log says leads, and whether its lease is held now.
func (j *Journal) Holder(ctx context.Context) (string, bool, error) {
	props, err := j.blob.GetProperties(ctx, nil)
	if err != nil {
		return "", false, fmt.Errorf("reading %s: %w", logBlob, err)
	}
	return meta(props.Metadata, metaHolder), props.LeaseState != nil && *props.LeaseState == lease.StateTypeLeased, nil
}

// meta reads a metadata value: the SDK hands names back as HTTP headers are spelled (Holder).
func meta(md map[string]*string, name string) string {
	for k, v := range md {
		if strings.EqualFold(k, name) && v != nil {
			return *v
		}
	}
	return ""
}

func (j *Journal) leased() *blob.AccessConditions {
	return &blob.AccessConditions{LeaseAccessConditions: &blob.LeaseAccessConditions{LeaseID: to.Ptr(j.leaseID)}}
}

// Fenced reports whether err is Azure refusing a write because the lease is another's, or gone:
// the writer is no longer the leader.
func Fenced(err error) bool {
	return bloberror.HasCode(err, bloberror.LeaseIDMissing, bloberror.LeaseIDMismatchWithBlobOperation,
		bloberror.LeaseLost, bloberror.LeaseNotPresentWithBlobOperation, bloberror.LeaseIDMismatchWithLeaseOperation,
		bloberror.LeaseNotPresentWithLeaseOperation, bloberror.LeaseIsBrokenAndCannotBeRenewed, bloberror.LeaseAlreadyPresent)
}
