package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// versionEvent is an event that opens (or, resolved, closes) a version.
func versionEvent(id, kind, subject string) Event {
	e := Event{ID: id, Kind: kind, Subject: subject, Body: []byte(`{"id":"` + id + `"}`), Change: OpensVersion,
		Version: []byte(`{"version":"` + subject + `"}`), Severity: "warning"}
	if kind == Resolved {
		e.Change, e.Version = ClosesVersion, nil
	}
	return e
}

func TestACorruptStateFileIsMovedAsideAndStartedAfresh(t *testing.T) {
	badMagic := func(t *testing.T, path string) {
		if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file ", 4096)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	badPages := func(t *testing.T, path string) {
		// A real state file with a few hundred entries, then every page past the two meta pages
		// overwritten: the meta pages still say "bbolt", the data is garbage.
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var events []Event
		for i := range 300 {
			events = append(events, versionEvent(strings.Repeat("x", 20)+string(rune('a'+i%26))+string(rune('a'+i/26)), "expiring", fmt.Sprint(i)))
		}
		if err := f.Enqueue([]Message{{Channel: "hook", Events: events}}, t0); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		page := os.Getpagesize()
		for i := 2 * page; i < len(data); i++ {
			data[i] = 0xAB
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, corrupt := range map[string]func(*testing.T, string){"wrong magic": badMagic, "bad pages": badPages} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			corrupt(t, path)
			before, _ := os.ReadFile(path)
			// A command that only reads (notify outbox, preview) says so and leaves the file be.
			if _, err := OpenReadOnly(path); err == nil || !strings.Contains(err.Error(), "is corrupt") {
				t.Errorf("read-only open of a corrupt file: %v", err)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("a read-only open changed the corrupt file")
			}
			f, err := Open(path)
			if err != nil {
				t.Fatalf("a corrupt state file must be recovered from, not refused: %v", err)
			}
			defer f.Close()
			aside := f.Recovered()
			if !strings.HasPrefix(aside, path+".corrupt-") {
				t.Fatalf("Recovered() = %q", aside)
			}
			if kept, _ := os.ReadFile(aside); string(kept) != string(before) {
				t.Error("the corrupt file was not kept as it was")
			}
			if err := f.Enqueue([]Message{{Channel: "hook", Events: []Event{versionEvent("a", "expiring", "v")}}}, t0); err != nil {
				t.Fatalf("the fresh file does not work: %v", err)
			}
		})
	}
}

func TestASecondProcessOnTheStateFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Open(path)
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another purgewatch holds it") {
		t.Fatalf("second open: %v", err)
	}
	if _, err := OpenReadOnly(path); !errors.Is(err, ErrHeld) {
		t.Errorf("read-only open beside a running purgewatch: %v", err)
	}
}

// rawPut writes a record as another program (an older purgewatch, a flipped byte) would.
func rawPut(t *testing.T, f *File, bucket []byte, k, v string) {
	t.Helper()
	if err := f.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(k), []byte(v)) }); err != nil {
		t.Fatal(err)
	}
}

func rawGet(t *testing.T, f *File, bucket []byte, k string) []byte {
	t.Helper()
	var out []byte
	if err := f.db.View(func(tx *bolt.Tx) error { out = clone(tx.Bucket(bucket).Get([]byte(k))); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// A record that cannot be decoded neither stops the prune nor is lost by it.
func TestPruneGoesOnBesideABadRecord(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg := Message{Channel: "hook", Events: []Event{versionEvent("e1", "expiring", "v1"), versionEvent("r1", Resolved, "v1"),
		versionEvent("e2", "expiring", "v2")}}
	if err := f.Enqueue([]Message{msg}, t0); err != nil {
		t.Fatal(err)
	}
	rawPut(t, f, bucketSubjects, string(subjectKey("hook", "bad")), "\x02\xff")
	removed, unreadable, err := f.Prune(t0.Add(48*time.Hour), 24*time.Hour, nil)
	if err != nil || unreadable != 1 || removed != 2 {
		t.Errorf("prune beside a bad record: removed %d of 2 (v1's two), unreadable %d, %v", removed, unreadable, err)
	}
	if left, _ := f.Logged("hook", []Key{{"e2", "v2"}, {"e1", "v1"}}); !left["e2"] || left["e1"] {
		t.Errorf("after the prune the log holds %v: the open version's event stays", left)
	}
	if v := rawGet(t, f, bucketSubjects, string(subjectKey("hook", "bad"))); v == nil {
		t.Error("the bad record was lost")
	}
}

// A file written before subject records keeps everything it knew: its open versions (with their
// JSON) and log entries move into records, an entry of the oldest form through the caller's
// Legacy, and one that cannot be read stays where it was.
func TestMigrateMovesTheOlderLogIntoRecords(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rawPut(t, f, bucketLog, "hook\x00e1", `{"kind":"expiring","subject":"v1","queuedAt":"2026-11-27T12:00:00Z","deliveredAt":"2026-11-27T12:01:00Z"}`)
	rawPut(t, f, bucketLog, "hook\x00old", `{"event":{"kind":"resolved","subject":"v3"},"queuedAt":"2026-11-27T12:00:00Z"}`)
	rawPut(t, f, bucketLog, "hook\x00bad", "{")
	rawPut(t, f, bucketOpen, "hook\x00v1", `{"version":{"version":"1.0.0"},"since":"2026-11-27T12:00:00Z","severity":"critical"}`)
	legacy := func(raw json.RawMessage) (string, string, error) {
		if !strings.Contains(string(raw), `"v3"`) {
			return "", "", fmt.Errorf("not the older entry: %s", raw)
		}
		return Resolved, "v3", nil
	}
	moved, unreadable, err := f.Migrate(legacy)
	if err != nil || moved != 3 || unreadable != 1 {
		t.Fatalf("migrated %d of 3, %d unreadable of 1: %v", moved, unreadable, err)
	}
	logged, _ := f.Logged("hook", []Key{{"e1", "v1"}, {"old", "v3"}, {"bad", "v1"}})
	if !logged["e1"] || !logged["old"] || logged["bad"] {
		t.Errorf("after the move the log holds %v", logged)
	}
	opens, err := f.OpenVersions("hook", nil)
	if err != nil || len(opens) != 1 || opens[0].Severity != "critical" || string(opens[0].Version) != `{"version":"1.0.0"}` || !opens[0].Since.Equal(t0) {
		t.Errorf("the open version after the move: %+v, %v", opens, err)
	}
	if opens, _ := f.OpenVersions("hook", map[string]bool{"v1": true}); len(opens) != 1 || opens[0].Key != "v1" || opens[0].Version != nil {
		t.Errorf("a present open version is named, without its bytes: %+v", opens)
	}
	if v := rawGet(t, f, bucketLog, "hook\x00bad"); v == nil {
		t.Error("the unreadable entry was lost")
	}
	if again, _, _ := f.Migrate(legacy); again != 0 {
		t.Errorf("a second migration moved %d", again)
	}
}

// A message and its log entries are one transaction; the open records follow each event's Change.
func TestEnqueueKeepsTheOpenRecordsInStep(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	warn := versionEvent("w", "expiring", "v")
	crit := versionEvent("c", "expiring", "v")
	crit.Severity, crit.Escalates = "critical", true
	unusable := versionEvent("u", "unusable", "v")
	unusable.Severity = "warning" // does not escalate: the open version keeps critical
	episode := Event{ID: "s", Kind: "scan-failing", Subject: "scan@t0", Body: []byte(`{"scan":{}}`), Change: OpensEpisode}
	for i, m := range [][]Event{{warn}, {crit, episode}, {unusable}} {
		if err := f.Enqueue([]Message{{Channel: "hook", Events: m}}, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	opens, err := f.OpenVersions("hook", nil)
	if err != nil || len(opens) != 1 || opens[0].Severity != "critical" || !opens[0].Since.Equal(t0) || string(opens[0].Version) != string(warn.Version) {
		t.Fatalf("open versions %+v, %v: one, since the first event, at the severity that escalated", opens, err)
	}
	if raw, err := f.BlindEpisode("hook"); err != nil || string(raw) != string(episode.Body) {
		t.Errorf("blind episode %s, %v", raw, err)
	}
	closing := versionEvent("r", Resolved, "v")
	recovered := Event{ID: "sr", Kind: Resolved, Subject: "scan@t0", Body: []byte(`{}`), Change: ClosesEpisode}
	if err := f.Enqueue([]Message{{Channel: "hook", Events: []Event{closing, recovered}}}, t0); err != nil {
		t.Fatal(err)
	}
	if opens, _ := f.OpenVersions("hook", nil); len(opens) != 0 {
		t.Errorf("a resolved version is still open: %+v", opens)
	}
	if raw, _ := f.BlindEpisode("hook"); raw != nil {
		t.Errorf("a recovered episode is still open: %s", raw)
	}
	tally, err := f.Counts()
	if err != nil || tally.Pending["hook"] != 6 || tally.Dead["hook"] != 0 || tally.Oldest["hook"].IsZero() {
		t.Errorf("counts %+v %v, want 6 events waiting, queued at a known time", tally, err)
	}
}
