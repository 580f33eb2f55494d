package deleters_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/scanner"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const (
	subA = "11111111-1111-1111-1111-111111111111"
	subB = "22222222-2222-2222-2222-222222222222"
)

var (
	pipeline = &armsim.Caller{Name: "0b4e7f1c-1111-4a6b-8e27-5f1d2c4b6a02", PrincipalType: "ServicePrincipal",
		AppID: "0b4e7f1c-1111-4a6b-8e27-5f1d2c4b6a02", ObjectID: "5d1f0000-2222-4c9d-b0e5-8f6a7d3c2b03", ClientIP: "20.50.2.7"}
	alice = &armsim.Caller{Name: "alice@contoso.com", AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
		ObjectID: "9a2c0000-3333-4e2a-9c8b-1d0e2f3a4b04", ClientIP: "203.0.113.7"}
)

// estate has n versions pruned by the pipeline in subscription A, spread over the last days,
// and in B one deleted by alice, one the log has no entry for, and one older than it keeps.
func estate(n int) armsim.Estate {
	var pruned []armsim.SoftDeleted
	for i := range n {
		pruned = append(pruned, armsim.SoftDeleted{Version: fmt.Sprintf("1.0.%d", i), DeletedAt: t0.Add(-time.Duration(i+3) * time.Hour), DeletedBy: pipeline})
	}
	gallery := func(name string, sds []armsim.SoftDeleted) armsim.Gallery {
		return armsim.Gallery{Name: name, ResourceGroup: "rg", Location: "West Europe", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true, RetentionDays: armsim.Days(120)},
			Images: []armsim.Image{{Name: "img", Versions: []string{"9.0.0"}, SoftDeleted: sds}}}
	}
	return armsim.Estate{Subscriptions: []armsim.Subscription{
		{ID: subA, Galleries: []armsim.Gallery{gallery("pipe", pruned)}},
		{ID: subB, Galleries: []armsim.Gallery{gallery("hand", []armsim.SoftDeleted{
			{Version: "2.0.0", DeletedAt: t0.Add(-26 * time.Hour), DeletedBy: alice},
			{Version: "2.1.0", DeletedAt: t0.Add(-5 * time.Hour)},
			{Version: "2.2.0", DeletedAt: t0.Add(-100 * 24 * time.Hour), DeletedBy: alice},
		})}},
	}}
}

type harness struct {
	sim     *armsim.Server
	clock   *clock.Fake
	scanner *scanner.Scanner
}

func newHarness(t *testing.T, e armsim.Estate, delay time.Duration) *harness {
	fc := clock.NewFake(t0)
	sim := armsim.New(e, armsim.Options{Clock: fc, ActivityLogDelay: delay})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	pl, err := arm.New(arm.Options{Endpoint: srv.URL, Clock: fc, RetryDelay: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{sim: sim, clock: fc, scanner: scanner.New(scanner.Options{Pipeline: pl, Clock: fc})}
}

func (h *harness) scan(t *testing.T) *scanner.Snapshot {
	t.Helper()
	snap, err := h.scanner.Scan(context.Background())
	if err != nil || snap.Partial() {
		t.Fatalf("scan: %v %v", err, snap.Errors)
	}
	return snap
}

// activityLogQueries counts the Activity Log requests since mark: first pages, and every page.
func (h *harness) activityLogQueries(mark int) (queries, pages int) {
	for _, r := range h.sim.Requests()[mark:] {
		if strings.Contains(strings.ToLower(r), "/providers/microsoft.insights/eventtypes/management/values") {
			pages++
			if !strings.Contains(r, "skiptoken") {
				queries++
			}
		}
	}
	return queries, pages
}

func byVersion(snap *scanner.Snapshot) map[string]scanner.Version {
	out := map[string]scanner.Version{}
	for _, v := range snap.Versions {
		out[v.Version] = v
	}
	return out
}

// TestEveryDeleterIsFoundInOneQueryASubscription: a first scan of 250 versions asks the Activity
// Log once per subscription (paged), not once per version, and every version then names who
// deleted it, or why that is not known; the next scan asks nothing.
func TestEveryDeleterIsFoundInOneQueryASubscription(t *testing.T) {
	h := newHarness(t, estate(250), 0)
	snap := h.scan(t)
	f := deleters.New(h.scanner, nil, nil)
	mark := len(h.sim.Requests())
	f.Attribute(context.Background(), snap, t0)
	if q, pages := h.activityLogQueries(mark); q != 2 || pages < 5 {
		t.Errorf("%d queries over %d pages for 253 versions in 2 subscriptions, want 2 queries, paged", q, pages)
	}
	vs := byVersion(snap)
	for i := range 250 {
		v := vs[fmt.Sprintf("1.0.%d", i)]
		if d := v.DeletedBy; d == nil || d.AppID != pipeline.AppID || d.ObjectID != pipeline.ObjectID || d.PrincipalType != "ServicePrincipal" ||
			d.ClientIP != pipeline.ClientIP || d.CorrelationID == "" || d.At.Sub(v.SoftDeletedAt).Abs() > time.Minute {
			t.Fatalf("%s: deleted by %+v, want the pipeline", v.Version, d)
		}
	}
	if d := vs["2.0.0"].DeletedBy; d == nil || d.PrincipalName != "alice@contoso.com" || d.PrincipalType != "User" || d.ClientIP != "203.0.113.7" || d.Who() != "alice@contoso.com" {
		t.Errorf("2.0.0: deleted by %+v, want alice", d)
	}
	for name, want := range map[string]string{"2.1.0": deleters.NoEntry, "2.2.0": deleters.TooOld} {
		if v := vs[name]; v.DeletedBy != nil || v.DeletedByUnknown != want {
			t.Errorf("%s: %+v / %q, want unknown: %q", name, v.DeletedBy, v.DeletedByUnknown, want)
		}
	}
	mark = len(h.sim.Requests())
	f.Attribute(context.Background(), h.scan(t), t0.Add(time.Minute))
	if q, _ := h.activityLogQueries(mark); q != 0 {
		t.Errorf("the next scan asked the Activity Log %d times about versions already settled", q)
	}
}

// TestALateEntryIsAskedForAgain: the log trails deletions by minutes. A version deleted a minute
// ago is "not in the Activity Log yet", pending (triage does not hold it against the version),
// and the next scan, after the log caught up, names the deleter.
func TestALateEntryIsAskedForAgain(t *testing.T) {
	e := estate(0)
	e.Subscriptions[0].Galleries[0].Images[0].SoftDeleted = []armsim.SoftDeleted{{Version: "1.0.9", DeletedAt: t0.Add(-time.Minute), DeletedBy: alice}}
	h := newHarness(t, e, 10*time.Minute)
	f := deleters.New(h.scanner, nil, nil)
	snap := h.scan(t)
	f.Attribute(context.Background(), snap, t0)
	v := byVersion(snap)["1.0.9"]
	if v.DeletedBy != nil || v.DeletedByUnknown != deleters.NotYet || !deleters.Pending(v) {
		t.Fatalf("a minute after the deletion: %+v %q, want pending: %q", v.DeletedBy, v.DeletedByUnknown, deleters.NotYet)
	}
	h.clock.Advance(15 * time.Minute)
	snap = h.scan(t)
	f.Attribute(context.Background(), snap, h.clock.Now())
	if v := byVersion(snap)["1.0.9"]; v.DeletedBy == nil || v.DeletedBy.PrincipalName != "alice@contoso.com" || deleters.Pending(v) {
		t.Errorf("16 minutes on: %+v %q, want alice", v.DeletedBy, v.DeletedByUnknown)
	}
}

// TestARefusedReadIsAnUnknownNotAFailure: a subscription whose Activity Log is refused leaves
// its versions' deleters unknown with the reason, asked again next scan; the other
// subscription's are found all the same.
func TestARefusedReadIsAnUnknownNotAFailure(t *testing.T) {
	h := newHarness(t, estate(3), 0)
	h.sim.Inject(armsim.Fault{Scope: "/subscriptions/" + subA + "/providers/Microsoft.Insights", Status: 403, Code: "AuthorizationFailed",
		Message: "The client does not have authorization to perform action 'Microsoft.Insights/eventtypes/values/read'."})
	f := deleters.New(h.scanner, nil, nil)
	snap := h.scan(t)
	f.Attribute(context.Background(), snap, t0)
	vs := byVersion(snap)
	if v := vs["1.0.0"]; v.DeletedBy != nil || !strings.Contains(v.DeletedByUnknown, "could not be read (AuthorizationFailed)") || !deleters.Pending(v) {
		t.Errorf("refused: %+v %q, pending %v; want unknown for now, and pending (never held against a version)", v.DeletedBy, v.DeletedByUnknown, deleters.Pending(v))
	}
	if vs["2.0.0"].DeletedBy == nil {
		t.Error("the other subscription's deleter was not found")
	}
	h.sim.Clear()
	mark := len(h.sim.Requests())
	snap = h.scan(t)
	f.Attribute(context.Background(), snap, t0.Add(time.Minute))
	if q, _ := h.activityLogQueries(mark); q != 1 {
		t.Errorf("%d queries after the refusal healed, want 1, for the refused subscription alone", q)
	}
	if byVersion(snap)["1.0.0"].DeletedBy == nil {
		t.Error("the deleter was not found once the log could be read")
	}
}

// TestDeletersOutliveARestart: what was found is kept in the state file; a restarted purgewatch
// asks the Activity Log nothing about it, and forgets versions that left the recycle bin.
func TestDeletersOutliveARestart(t *testing.T) {
	h := newHarness(t, estate(2), 0)
	path := filepath.Join(t.TempDir(), "state.db")
	file, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	deleters.New(h.scanner, file, nil).Attribute(context.Background(), h.scan(t), t0)
	if err := file.Close(); err != nil {
		t.Fatal(err)
	}
	if file, err = state.Open(path); err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	f := deleters.New(h.scanner, file, nil)
	mark := len(h.sim.Requests())
	snap := h.scan(t)
	f.Attribute(context.Background(), snap, t0.Add(time.Minute))
	if q, _ := h.activityLogQueries(mark); q != 0 {
		t.Errorf("after a restart the Activity Log was asked %d times", q)
	}
	if d := byVersion(snap)["2.0.0"].DeletedBy; d == nil || d.PrincipalName != "alice@contoso.com" {
		t.Errorf("after a restart 2.0.0 is deleted by %+v", d)
	}
	e := estate(2)
	e.Subscriptions[1].Galleries[0].Images[0].SoftDeleted = nil
	h.sim.SetEstate(e)
	f.Attribute(context.Background(), h.scan(t), t0.Add(2*time.Minute))
	stored, err := file.LoadDeleters()
	if err != nil || len(stored) != 2 {
		t.Errorf("%d records kept (%v), want the 2 versions still in a recycle bin", len(stored), err)
	}
	// What a version weighs: a 12-byte key, 3 bytes for one the log has no entry for, and about 100
	// for a deleter found (280 as JSON).
	if _, err := file.LoadDeleters(); err == nil {
		f := deleters.New(h.scanner, file, nil)
		e.Subscriptions[1].Galleries[0].Images[0].SoftDeleted = estate(2).Subscriptions[1].Galleries[0].Images[0].SoftDeleted[1:2] // 2.1.0: no entry
		h.sim.SetEstate(e)
		f.Attribute(context.Background(), h.scan(t), t0.Add(3*time.Minute))
		stored, _ = file.LoadDeleters()
		small := 0
		for k, v := range stored {
			if len(k) != 12 {
				t.Errorf("a key of %d bytes: %q", len(k), k)
			}
			if len(v) == 3 {
				small++
			} else if len(v) > 120 {
				t.Errorf("a deleter record of %d bytes: %q", len(v), v)
			}
		}
		if small != 1 {
			t.Errorf("the version with no entry is not kept in 3 bytes: %q", stored)
		}
	}
}
