package ha

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"go.uber.org/zap/zaptest"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/internal/testtool"
	"github.com/purgewatch/purgewatch/scanner"
)

// replica is one purgewatch replica of a test: its own state file, the shared container, and
// channels that hear when it leads and when it stops.
type replica struct {
	*Replica
	file    *state.File
	led     chan struct{}
	deposed chan struct{}
	stop    func()
}

func start(t testing.TB, blob config.AzureBlob, identity string) *replica {
	t.Helper()
	f, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	r, err := New(config.HA{Backend: config.HAAzureBlob, AzureBlob: blob, LeaseDuration: 15 * time.Second, Identity: identity},
		f, Options{Log: zaptest.NewLogger(t).Named(identity)})
	if err != nil {
		t.Fatal(err)
	}
	rep := &replica{Replica: r, file: f, led: make(chan struct{}, 8), deposed: make(chan struct{}, 8)}
	r.Serve(nopAnnouncer{}, func() { rep.led <- struct{}{} })
	r.Elector.deposed = func() { rep.deposed <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.Elector.Run(ctx) })
	rep.stop = sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(rep.stop)
	return rep
}

type nopAnnouncer struct{}

func (nopAnnouncer) Announce(context.Context, *scanner.Snapshot, map[string][]scanner.Workload, scanner.Coverage) error {
	return nil
}

// wait waits for a signal, failing after d: the lease is Azurite's, a process the test awaits.
func wait(t testing.TB, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

func message(channel, id string) state.Message {
	body, _ := json.Marshal(map[string]string{"id": id})
	return state.Message{Channel: channel, Events: []state.Event{{ID: id, Kind: "deleted", Subject: "v/" + id, Body: body}}}
}

func dump(t testing.TB, f *state.File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f.Dump(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// One replica leads; the other stands by and writes nothing; when the leader stops it lets go of
// the lease, and the standby leads at once with the log the leader wrote, to the byte.
func TestTheStandbyLeadsWithTheLeadersLog(t *testing.T) {
	blob := testtool.Azurite(t, "purgewatch")
	a := start(t, blob, "a")
	wait(t, a.led, 10*time.Second, "a to lead")
	b := start(t, blob, "b")

	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	if err := a.Log.Enqueue([]state.Message{message("slack", "e1"), message("slack", "e2")}, now); err != nil {
		t.Fatal(err)
	}
	p, err := a.Log.Head("slack")
	if err != nil || p == nil {
		t.Fatalf("the leader's head: %v, %v", p, err)
	}
	if again, err := a.Log.Attempting("slack", p); err != nil || again {
		t.Fatalf("a first attempt: again %v, %v", again, err)
	}
	if err := a.Log.Delivered("slack", p, []state.Event{{ID: "e1", Kind: "deleted", Subject: "v/e1"}}, now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if p, _ = a.Log.Head("slack"); p == nil {
		t.Fatal("the second message is gone")
	}
	if _, err := a.Log.Attempting("slack", p); err != nil { // its send begins, and a dies before it ends
		t.Fatal(err)
	}

	if b.Elector.Leading() {
		t.Fatal("two leaders")
	}
	if err := b.Log.Enqueue([]state.Message{message("slack", "x")}, now); err == nil {
		t.Fatal("a standby wrote the log")
	}
	if p, _ := b.Log.Head("slack"); p != nil {
		t.Fatal("a standby would send")
	}
	// The outbox gauges are the leader's alone: a standby's copy would raise its alerts twice.
	if lead, _ := a.Log.Counts(); lead.Pending["slack"] != 1 {
		t.Errorf("the leader counts %d events waiting, want 1", lead.Pending["slack"])
	}
	if standby, _ := b.Log.Counts(); len(standby.Pending) != 0 || len(standby.Oldest) != 0 {
		t.Errorf("a standby exports an outbox: %+v", standby)
	}
	testtool.Eventually(t, 5*time.Second, "the standby to say a leads", func() bool { return b.Elector.Leader() == "a" })

	stopped := time.Now()
	a.stop()
	wait(t, b.led, 5*time.Second, "b to lead once a let go")
	t.Logf("b led %s after a stopped", time.Since(stopped).Round(time.Millisecond))
	if got, want := dump(t, b.file), dump(t, a.file); !bytes.Equal(got, want) {
		t.Errorf("b's state file is not a's: %d bytes against %d", len(got), len(want))
	}
	p, _ = b.Log.Head("slack")
	if p == nil || p.Seq() != 2 {
		t.Fatalf("b's head is %+v; the second message, whose send was in flight", p)
	}
	if again, err := b.Log.Attempting("slack", p); err != nil || !again {
		t.Errorf("b sends the message a was sending: it must know it may repeat it (again %v, %v)", again, err)
	}
	logged, _ := b.Log.Logged("slack", []state.Key{{ID: "e1", Subject: "v/e1"}, {ID: "e2", Subject: "v/e2"}, {ID: "x", Subject: "v/x"}})
	if !logged["e1"] || !logged["e2"] || logged["x"] {
		t.Errorf("b's log: %v; e1 and e2 were queued by a, x by nobody", logged)
	}
}

// A leader whose lease another took is refused by Azure at its next write, and steps down.
func TestADeposedLeadersWriteIsRefused(t *testing.T) {
	blob := testtool.Azurite(t, "purgewatch")
	a := start(t, blob, "a")
	wait(t, a.led, 10*time.Second, "a to lead")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	if err := a.Log.Enqueue([]state.Message{message("slack", "e1")}, now); err != nil {
		t.Fatal(err)
	}

	// Another takes the lease as if a's had run out while a was cut off: broken, then acquired.
	c, err := Container(blob, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lc, err := lease.NewBlobClient(c.NewAppendBlobClient(logBlob), &lease.BlobClientOptions{LeaseID: to.Ptr("00000000-0000-0000-0000-00000000000b")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := lc.BreakLease(ctx, &lease.BlobBreakOptions{BreakPeriod: to.Ptr(int32(0))}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.AcquireLease(ctx, 60, nil); err != nil {
		t.Fatal(err)
	}

	err = a.Log.Enqueue([]state.Message{message("slack", "e2")}, now)
	if err == nil || !Fenced(err) {
		t.Fatalf("a deposed leader's write: %v; Azure must refuse it for the lease", err)
	}
	wait(t, a.deposed, 5*time.Second, "a to step down")
	if a.Elector.Leading() {
		t.Error("a still leads")
	}
	if logged, _ := a.Log.Logged("slack", []state.Key{{ID: "e2", Subject: "v/e2"}}); logged["e2"] {
		t.Error("the refused write reached a's state file")
	}
	if left, _ := a.Log.Counts(); len(left.Pending) != 0 {
		t.Errorf("a deposed leader still exports its outbox (e1 waits in its copy): %+v", left)
	}
}

// The log is compacted into a snapshot; a replica that leads after it reads the same state.
func TestACompactedLogReadsTheSame(t *testing.T) {
	blob := testtool.Azurite(t, "purgewatch")
	a := start(t, blob, "a")
	wait(t, a.led, 10*time.Second, "a to lead")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for i := range 30 {
		if err := a.Log.Enqueue([]state.Message{message("slack", "e"+string(rune('a'+i)))}, now); err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			a.Log.mu.Lock()
			err := a.Log.compactLocked(context.Background())
			a.Log.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if records, snapshot := a.Log.weight(); snapshot == 0 || records == 0 {
		t.Fatalf("after a compaction and 9 writes: %d bytes of records, %d of snapshot", records, snapshot)
	}
	b := start(t, blob, "b")
	a.stop()
	wait(t, b.led, 5*time.Second, "b to lead")
	if got, want := dump(t, b.file), dump(t, a.file); !bytes.Equal(got, want) {
		t.Errorf("b's state file is not a's after a compaction: %d bytes against %d", len(got), len(want))
	}
}

func TestAReloadCannotChangeTheLease(t *testing.T) {
	old := config.Default()
	next := old
	next.HA.Backend = config.HAAzureBlob
	if _, err := (Fixed{}).Prepare(&old, &next); err == nil || !strings.Contains(err.Error(), "ha: changes only on restart") {
		t.Errorf("turning ha on by a reload: %v", err)
	}
	if apply, err := (Fixed{}).Prepare(&old, &old); err != nil || apply == nil {
		t.Errorf("a reload that leaves ha alone: %v", err)
	}
}
