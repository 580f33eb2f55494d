package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
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

func (h *harness) logEntries() int { return h.file.LogEntries() }

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
		h.n.deliverAll(t.Context())
		h.clock.Advance(time.Hour) // they leave the bin: resolved as gone
		if err := h.n.Announce(t.Context(), snapshot(h.clock.Now()), nil, cov); err != nil {
			t.Fatal(err)
		}
		h.n.deliverAll(t.Context())
		h.clock.Advance(3 * 24 * time.Hour) // past notify.keep
		entries, sizes = append(entries, h.logEntries()), append(sizes, h.file.Size())
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
	// (An entry that cannot be decoded neither stops the prune nor is lost by it: internal/state.)
	// The hourly housekeeping compacts a file that the prune left mostly free pages, and a restart
	// finds nothing more to do.
	h.clock.Advance(3 * 24 * time.Hour)
	before := h.file.Size()
	if err := h.n.Announce(t.Context(), snapshot(h.clock.Now()), nil, scanner.Coverage{Complete: true, Since: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	after := h.file.Size()
	if after >= before/2 {
		t.Errorf("the prune's free pages were not given back: %d -> %d bytes", before, after)
	}
	h.restart()
	if restarted := h.file.Size(); restarted > after {
		t.Errorf("a restart grew the file: %d -> %d bytes", after, restarted)
	}
	if n := h.logEntries(); n != 0 {
		t.Errorf("%d log entries after everything left long ago", n)
	}
}

// A large plan is written in several transactions, each whole messages with their log records;
// the log holds what dedupe and pruning need, and entries of the older, whole-event form are
// moved into records.
func TestALargePlanIsQueuedWholeAcrossTransactions(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	var messages [][]Event
	for m := range 3 * enqueueChunk / 100 {
		var events []Event
		for i := range 100 {
			v := ver("g", fmt.Sprintf("%d.0.%d", m, i), t0.Add(time.Hour), 0, nil)
			events = append(events, Event{ID: eventID(versionKey(v), KindResolved, 0), Kind: KindResolved, Version: v})
		}
		messages = append(messages, events)
	}
	if err := h.n.commit(h.set, plan{batches: []queued{{channel: "hook", messages: messages}}}); err != nil {
		t.Fatal(err)
	}
	first, err := h.n.head("hook")
	if err != nil || first == nil || first.events[0].ID != messages[0][0].ID {
		t.Fatalf("the first message queued is not the outbox's head: %+v, %v", first, err)
	}
	letters, err := h.n.Letters("hook")
	if err != nil {
		t.Fatal(err)
	}
	if logged := h.logEntries(); len(letters) != len(messages) || logged != 3*enqueueChunk {
		t.Errorf("%d messages and %d log entries, want %d and %d", len(letters), logged, len(messages), 3*enqueueChunk)
	}
	// The log holds a record per subject, a few bytes an event, not the event: read as the file holds it.
	subj := sha256.Sum256([]byte(versionKey(messages[0][0].Version)))
	if rec := rawGet(t, h, "subjects", "hook\x00"+string(subj[:12])); len(rec) == 0 || len(rec) > 40 || bytes.Contains(rec, []byte(`"version"`)) {
		t.Errorf("a resolved version's record is %d bytes (%q): its one event's id, kind and times", len(rec), rec)
	}
	// An entry written before subject records, whole event and all, is moved into them when the
	// file is opened, and pruned like the rest.
	old := messages[0][0]
	old.ID = "written-by-an-older-purgewatch"
	body, err := json.Marshal(map[string]any{"event": old, "queuedAt": t0})
	if err != nil {
		t.Fatal(err)
	}
	rawPut(t, h, "log", "hook\x00"+old.ID, body)
	if logged, _ := h.file.Logged("hook", keys([]Event{old})); !logged[old.ID] {
		t.Error("the older entry was not moved into the records")
	}
	removed, unreadable, err := h.file.Prune(t0.Add(48*time.Hour), 24*time.Hour, legacySubject)
	if err != nil || unreadable != 0 || removed != 3*enqueueChunk+1 {
		t.Errorf("pruned %d of %d (unreadable %d, %v)", removed, 3*enqueueChunk+1, unreadable, err)
	}
}

// rawGet and rawPut read and write the harness's state file as bbolt holds it, with the file
// closed and opened again around them, as another program would.
func rawGet(t *testing.T, h *harness, bucket, key string) []byte {
	t.Helper()
	var out []byte
	h.raw(func(tx *bolt.Tx) error {
		out = append(out, tx.Bucket([]byte(bucket)).Get([]byte(key))...)
		return nil
	})
	return out
}

func rawPut(t *testing.T, h *harness, bucket, key string, value []byte) {
	t.Helper()
	h.raw(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Put([]byte(key), value) })
}

func (h *harness) raw(fn func(*bolt.Tx) error) {
	h.t.Helper()
	if err := h.file.Close(); err != nil {
		h.t.Fatal(err)
	}
	db, err := bolt.Open(h.path, 0o600, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		h.t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}
