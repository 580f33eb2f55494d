package notify

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/purgewatch/purgewatch/scanner"
)

// gone is a Liveness for which nothing was recovered.
type gone struct{}

func (gone) LiveVersions(_ context.Context, ids []string) map[string]bool {
	out := map[string]bool{}
	for _, id := range ids {
		out[strings.ToLower(id)] = false
	}
	return out
}

func (h *harness) logEntries() int {
	h.t.Helper()
	n := 0
	if err := h.store.db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucketLog).Stats().KeyN; return nil }); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// Rounds of versions deleted, announced and gone: the log keeps what left within notify.keep,
// so the state file stays bounded by what is in the bins, however long purgewatch runs.
func TestTheStateFileForgetsWhatLeftLongAgo(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	h.set.Liveness, h.set.Keep = gone{}, 48*time.Hour
	h.n.Configure(h.set)
	const perRound = 300
	var entries []int
	var sizes []int64
	for round := range 5 {
		now := h.clock.Now()
		var vs []scanner.Version
		for i := range perRound {
			vs = append(vs, ver("g", fmt.Sprintf("%d.0.%d", round, i), now.Add(5*time.Hour), 0, nil))
		}
		cov := scanner.Coverage{Complete: true, Since: now}
		if err := h.n.Announce(t.Context(), snapshot(now, vs...), nil, cov); err != nil {
			t.Fatal(err)
		}
		h.n.Deliver(t.Context())
		h.clock.Advance(time.Hour) // they leave the bin: resolved as gone
		if err := h.n.Announce(t.Context(), snapshot(h.clock.Now()), nil, cov); err != nil {
			t.Fatal(err)
		}
		h.n.Deliver(t.Context())
		h.clock.Advance(3 * 24 * time.Hour) // past notify.keep
		entries, sizes = append(entries, h.logEntries()), append(sizes, h.store.Size())
	}
	if len(rx.webhookEvents(t)) != 5*2*perRound {
		t.Fatalf("delivered %d events, want an expiring and a resolved per version", len(rx.webhookEvents(t)))
	}
	// Each round's prune (at its first Announce) forgets the round before: the log holds one
	// round, never more.
	for i, n := range entries {
		if n > 2*perRound {
			t.Errorf("round %d: %d log entries, want at most one round's %d", i, n, 2*perRound)
		}
	}
	if last, first := sizes[len(sizes)-1], sizes[1]; last > first+first/2 {
		t.Errorf("state file grew %v: bounded by what is in the bins, it must not", sizes)
	}
	// An entry that cannot be decoded neither stops the prune nor is lost by it.
	if err := h.store.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLog).Put([]byte("hook\x00bad"), []byte("{")) }); err != nil {
		t.Fatal(err)
	}
	removed, unreadable, err := h.store.prune(h.clock.Now().Add(3*24*time.Hour), 48*time.Hour)
	if err != nil || unreadable != 1 || removed != entries[len(entries)-1] {
		t.Errorf("prune beside a bad entry: removed %d of %d, unreadable %d, %v", removed, entries[len(entries)-1], unreadable, err)
	}
	if err := h.store.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketLog).Delete([]byte("hook\x00bad")) }); err != nil {
		t.Fatal(err)
	}
	// A restart compacts a file that is mostly free pages.
	h.clock.Advance(3 * 24 * time.Hour)
	if err := h.n.Announce(t.Context(), snapshot(h.clock.Now()), nil, scanner.Coverage{Complete: true, Since: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	before := h.store.Size()
	h.restart()
	if after := h.store.Size(); after >= before {
		t.Errorf("restart did not compact a sparse file: %d -> %d bytes", before, after)
	}
	if n := h.logEntries(); n != 0 {
		t.Errorf("%d log entries after everything left long ago", n)
	}
}

// A large plan is written in several transactions, each whole messages with their log entries;
// the log holds what dedupe and pruning need, and entries of the older, whole-event form are
// still read.
func TestALargePlanIsQueuedWholeAcrossTransactions(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var messages [][]Event
	for m := range 3 * enqueueChunk / 100 {
		var events []Event
		for i := range 100 {
			v := ver("g", fmt.Sprintf("%d.0.%d", m, i), t0.Add(time.Hour), 0, nil)
			events = append(events, Event{ID: eventID(versionKey(v), KindResolved, 0), Kind: KindResolved, Version: v})
		}
		messages = append(messages, events)
	}
	if err := s.enqueue([]queued{{channel: "hook", messages: messages}}, t0); err != nil {
		t.Fatal(err)
	}
	first, err := s.head("hook")
	if err != nil || first == nil || first.Events[0].ID != messages[0][0].ID {
		t.Fatalf("the first message queued is not the outbox's head: %+v, %v", first, err)
	}
	var outbox, logged int
	if err := s.db.View(func(tx *bolt.Tx) error {
		outbox, logged = tx.Bucket(bucketOutbox).Stats().KeyN, tx.Bucket(bucketLog).Stats().KeyN
		le := tx.Bucket(bucketLog).Get(key("hook", messages[0][0].ID))
		if !bytes.Contains(le, []byte(`"subject":"`+versionKey(messages[0][0].Version)+`"`)) || bytes.Contains(le, []byte(`"version"`)) {
			t.Errorf("a log entry holds its subject, not the event: %s", le)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if outbox != len(messages) || logged != 3*enqueueChunk {
		t.Errorf("%d messages and %d log entries, want %d and %d", outbox, logged, len(messages), 3*enqueueChunk)
	}
	// An entry written before the log was slimmed, whole event and all, is pruned like the rest.
	old := messages[0][0]
	old.ID = "written-by-an-older-purgewatch"
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return put(tx.Bucket(bucketLog), key("hook", old.ID), logEntry{Event: &old, QueuedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	removed, unreadable, err := s.prune(t0.Add(48*time.Hour), 24*time.Hour)
	if err != nil || unreadable != 0 || removed != logged+1 {
		t.Errorf("pruned %d of %d (unreadable %d, %v)", removed, logged+1, unreadable, err)
	}
}
