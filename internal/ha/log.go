package ha

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/state"
)

// Log is the notification log of a replica (notify.Log): reads come from its own state file;
// every write is first a record in the journal, under the lease, then made to the state file,
// so the file is the journal replayed. A standby writes nothing and sends nothing.
type Log struct {
	*state.File
	journal *Journal
	elector *Elector
	timeout time.Duration // for one journal write: well inside the lease
	log     *zap.Logger
	// Synced, when set, hears that the state file was read anew from the journal.
	Synced func()

	mu sync.Mutex // one write at a time: the journal's order is the file's
	// inFlight are the messages whose send began and was not recorded: sent again by the next
	// leader, counted as resent (notify.Fence).
	inFlight map[string]bool
}

// op is one record of the journal: a write of the notification log and its arguments.
type op struct {
	Op         string            `json:"op"`
	Channel    string            `json:"ch,omitempty"`
	Seq        uint64            `json:"seq,omitempty"`
	At         time.Time         `json:"at,omitzero"`
	Next       time.Time         `json:"next,omitzero"`
	Cause      string            `json:"cause,omitempty"`
	Status     int               `json:"status,omitempty"`
	Answer     string            `json:"answer,omitempty"`
	Unreadable string            `json:"unreadable,omitempty"`
	Keep       time.Duration     `json:"keep,omitempty"`
	Messages   []state.Message   `json:"messages,omitempty"`
	Events     []state.Event     `json:"events,omitempty"`
	Put        map[string][]byte `json:"put,omitempty"`
	Drop       []string          `json:"drop,omitempty"`
	InFlight   []string          `json:"inFlight,omitempty"`
}

// The ops.
const (
	opEnqueue    = "enqueue"
	opAttempting = "attempting"
	opDelivered  = "delivered"
	opFailed     = "failed"
	opBury       = "bury"
	opRequeue    = "requeue"
	opPrune      = "prune"
	opSilences   = "silences"
)

// Enqueue queues messages (notify.Outbox), in records small enough for one append block each.
func (l *Log) Enqueue(messages []state.Message, now time.Time) error {
	for len(messages) > 0 {
		n, events := 0, 0
		for n < len(messages) && (n == 0 || events+len(messages[n].Events) <= enqueueRecord) {
			events += len(messages[n].Events)
			n++
		}
		if err := l.write(op{Op: opEnqueue, At: now, Messages: messages[:n]}); err != nil {
			return err
		}
		messages = messages[n:]
	}
	return nil
}

// enqueueRecord bounds the events of one enqueue record: 2,000 events of ~1.5 KB are ~300 KB of
// gzip, far inside an append block.
const enqueueRecord = 2000

// Head is the channel's oldest message, on the leader alone: a standby sends nothing.
func (l *Log) Head(channel string) (*state.Pending, error) {
	if !l.elector.Leading() {
		return nil, nil
	}
	return l.File.Head(channel)
}

// Counts is the outbox the gauges export: the leader's alone. A standby's copy is as it last read
// it (or as it left it when deposed), and exporting it would raise the leader's alerts a second
// time, or ones that are no longer true.
func (l *Log) Counts() (state.Tally, error) {
	if !l.elector.Leading() {
		return state.Tally{Pending: map[string]int{}, Dead: map[string]int{}, Oldest: map[string]time.Time{}}, nil
	}
	return l.File.Counts()
}

// Attempting records that the message's send begins (notify.Fence): a leader that lost its lease
// is refused here, before it sends. resend says an earlier leader began it and did not record how
// it ended: the receiver may have it already.
func (l *Log) Attempting(channel string, p *state.Pending) (resend bool, err error) {
	k := inFlightKey(channel, p.Seq())
	l.mu.Lock()
	resend = l.inFlight[k]
	l.mu.Unlock()
	return resend, l.write(op{Op: opAttempting, Channel: channel, Seq: p.Seq()})
}

// Delivered records a delivery.
func (l *Log) Delivered(channel string, p *state.Pending, events []state.Event, at time.Time) error {
	return l.write(op{Op: opDelivered, Channel: channel, Seq: p.Seq(), Events: events, At: at})
}

// Failed records a failed attempt; p is updated as state.File.Failed does.
func (l *Log) Failed(channel string, p *state.Pending, ended, next time.Time, cause string) error {
	if err := l.write(op{Op: opFailed, Channel: channel, Seq: p.Seq(), At: ended, Next: next, Cause: cause}); err != nil {
		return err
	}
	p.Attempts++
	p.NextAttempt, p.LastError = next, cause
	return nil
}

// Bury makes the message a dead letter.
func (l *Log) Bury(channel string, p *state.Pending, at time.Time, status int, answer, cause string) error {
	o := op{Op: opBury, Channel: channel, Seq: p.Seq(), At: at, Status: status, Answer: answer, Cause: cause}
	if p.Undecodable != nil {
		o.Unreadable = p.Undecodable.Error()
	}
	return l.write(o)
}

// Requeue queues the channel's dead letters again.
func (l *Log) Requeue(channel string, now time.Time) (int, error) {
	before, err := l.File.Letters(channel)
	if err != nil {
		return 0, err
	}
	dead := 0
	for _, b := range before {
		if b.State == state.LetterDead {
			dead++
		}
	}
	if err := l.write(op{Op: opRequeue, Channel: channel, At: now}); err != nil {
		return 0, err
	}
	after, err := l.File.Letters(channel)
	for _, a := range after {
		if a.State == state.LetterDead {
			dead--
		}
	}
	return dead, err
}

// Prune forgets what was resolved long ago. A standby prunes nothing: the leader's log is the one.
func (l *Log) Prune(now time.Time, keep time.Duration, _ state.Legacy) (int, int, error) {
	if !l.elector.Leading() {
		return 0, 0, nil
	}
	before := l.File.LogEntries()
	err := l.write(op{Op: opPrune, At: now, Keep: keep})
	return before - l.File.LogEntries(), 0, err
}

// SaveSilences keeps silences made on the leader (silence.Backend).
func (l *Log) SaveSilences(put map[string][]byte, drop []string) error {
	return l.write(op{Op: opSilences, Put: put, Drop: drop})
}

// write is every write: the journal first, under the lease, then the state file. A write the
// journal refuses for the lease deposes this replica; one the file cannot take after the journal
// did deposes it too, so that it reads the log anew before it leads again.
func (l *Log) write(o op) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.elector.Leading() {
		return &StandbyError{Leader: l.elector.Leader()}
	}
	rec, err := encode(o)
	if err != nil {
		return fmt.Errorf("recording %s: %w", o.Op, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := l.journal.Append(ctx, rec); err != nil {
		if Fenced(err) {
			l.elector.Depose(err)
		}
		return fmt.Errorf("recording %s in the shared notification log: %w", o.Op, err)
	}
	if err := l.apply(o); err != nil {
		l.elector.Depose(err)
		return fmt.Errorf("recording %s in the state file after the shared log: %w", o.Op, err)
	}
	if l.journal.due() {
		if err := l.compactLocked(ctx); err != nil {
			l.log.Warn("compacting the shared notification log; it is tried again after the next write", zap.Error(err))
		}
	}
	return nil
}

// apply makes one op to the state file, as the leader made it.
func (l *Log) apply(o op) error {
	f := l.File
	switch o.Op {
	case opEnqueue:
		return f.Enqueue(o.Messages, o.At)
	case opAttempting:
		l.inFlight[inFlightKey(o.Channel, o.Seq)] = true
		return nil
	case opRequeue:
		_, err := f.Requeue(o.Channel, o.At)
		return err
	case opPrune:
		_, _, err := f.Prune(o.At, o.Keep, func(json.RawMessage) (string, string, error) {
			return "", "", errors.New("an entry of the old form") // never written under ha
		})
		return err
	case opSilences:
		return f.SaveSilences(o.Put, o.Drop)
	}
	p, err := f.PendingAt(o.Channel, o.Seq)
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("%s of %s's message %d, which the state file does not hold", o.Op, o.Channel, o.Seq)
	}
	delete(l.inFlight, inFlightKey(o.Channel, o.Seq))
	switch o.Op {
	case opDelivered:
		return f.Delivered(o.Channel, p, o.Events, o.At)
	case opFailed:
		return f.Failed(o.Channel, p, o.At, o.Next, o.Cause)
	case opBury:
		if o.Unreadable != "" && p.Undecodable == nil {
			p.Undecodable = errors.New(o.Unreadable)
		}
		return f.Bury(o.Channel, p, o.At, o.Status, o.Answer, o.Cause)
	}
	return fmt.Errorf("an op of the unknown kind %q", o.Op)
}

// sync makes the state file the journal replayed: the snapshot, then each record. A journal
// that is empty is seeded from the state file, so turning ha on keeps what was sent.
func (l *Log) sync(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, err := l.journal.Read(ctx)
	if err != nil {
		return err
	}
	if err := l.journal.claim(ctx); err != nil { // after the read: the claim keeps the snapshot it names
		return err
	}
	l.inFlight = map[string]bool{}
	if c.Snapshot == nil && len(c.Records) == 0 {
		l.log.Info("the shared notification log is empty: seeding it from the state file", zap.String("stateFile", l.Path()))
		return l.compactLocked(ctx)
	}
	if err := l.restore(c.Snapshot); err != nil {
		return err
	}
	for i, rec := range c.Records {
		o, err := decode(rec)
		if err != nil {
			return fmt.Errorf("record %d of the shared notification log: %w", i, err)
		}
		if err := l.apply(o); err != nil {
			return fmt.Errorf("record %d of the shared notification log (%s): %w", i, o.Op, err)
		}
	}
	l.log.Info("read the shared notification log", zap.Int64("bytes", c.Bytes), zap.Int("records", len(c.Records)),
		zap.Int("inFlight", len(l.inFlight)))
	if l.Synced != nil {
		l.Synced()
	}
	if l.journal.due() {
		return l.compactLocked(ctx)
	}
	return nil
}

// snapshotHead is what a snapshot says beside the state file's buckets.
type snapshotHead struct {
	InFlight []string `json:"inFlight,omitempty"`
}

// restore loads a snapshot: the length of its head's JSON in 4 bytes, the head, then the state
// file's dump, all gzipped; nil is the empty log.
func (l *Log) restore(snapshot []byte) error {
	if snapshot == nil {
		return l.Reset()
	}
	zr, err := gzip.NewReader(bytes.NewReader(snapshot))
	if err != nil {
		return fmt.Errorf("the snapshot: %w", err)
	}
	var n [4]byte
	if _, err := io.ReadFull(zr, n[:]); err != nil {
		return fmt.Errorf("the snapshot's head: %w", err)
	}
	raw := make([]byte, min(binary.BigEndian.Uint32(n[:]), maxRecord))
	if _, err := io.ReadFull(zr, raw); err != nil {
		return fmt.Errorf("the snapshot's head: %w", err)
	}
	var head snapshotHead
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("the snapshot's head: %w", err)
	}
	for _, k := range head.InFlight {
		l.inFlight[k] = true
	}
	return l.Load(zr)
}

// compactLocked writes the state file as the journal's new snapshot; callers hold l.mu.
func (l *Log) compactLocked(ctx context.Context) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	head := snapshotHead{}
	for k := range l.inFlight {
		head.InFlight = append(head.InFlight, k)
	}
	raw, err := json.Marshal(head)
	if err != nil {
		return err
	}
	if _, err := zw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(raw)))); err != nil {
		return err
	}
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := l.Dump(zw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := l.journal.Compact(ctx, buf.Bytes()); err != nil {
		if Fenced(err) {
			l.elector.Depose(err)
		}
		return err
	}
	return nil
}

func inFlightKey(channel string, seq uint64) string { return fmt.Sprintf("%s\x00%d", channel, seq) }

// encode is a record: the op's JSON, gzipped (events' JSON shrinks about tenfold).
func encode(o op) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(o); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decode(rec []byte) (op, error) {
	var o op
	zr, err := gzip.NewReader(bytes.NewReader(rec))
	if err != nil {
		return o, err
	}
	err = json.NewDecoder(zr).Decode(&o)
	return o, err
}
