package audit

import (
	"context"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/scanner"
)

const sub = "11111111-1111-1111-1111-111111111111"

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func gid(g string) string {
	return "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Compute/galleries/" + g
}

func vid(g, img, v string) string { return gid(g) + "/images/" + img + "/versions/" + v }

func estate() armsim.Estate {
	days := func(n int) *int { return &n }
	return armsim.Estate{Subscriptions: []armsim.Subscription{{ID: sub,
		Galleries: []armsim.Gallery{
			{Name: "soft", ResourceGroup: "rg", Location: "West Europe", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true},
				Images: []armsim.Image{
					{Name: "img", Versions: []string{"2.0.0", "2.0.1"}, Failed: []string{"2.0.1"}, SoftDeleted: []armsim.SoftDeleted{
						{Version: "1.0.0", DeletedAt: t0.Add(-6 * 24 * time.Hour)},
						{Version: "1.0.1", DeletedAt: t0.Add(-time.Hour), Location: "North Europe"},
					}},
					{Name: "clean", Versions: []string{"1.0.0"}},
				}},
			{Name: "off", ResourceGroup: "rg", Location: "West Europe",
				Images: []armsim.Image{{Name: "img", Versions: []string{"1.0.0"}, Failed: []string{"1.0.0"}}}},
			{Name: "short", ResourceGroup: "rg", Location: "West Europe", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true, RetentionDays: days(3)}},
		},
		VMs: []armsim.VM{
			{Name: "web-1", ResourceGroup: "app", Location: "westeurope", ImageID: vid("soft", "img", "1.0.0")},
			{Name: "web-2", ResourceGroup: "app", Location: "westeurope", ImageID: vid("soft", "img", "2.0.0")},
			{Name: "market", ResourceGroup: "app", Location: "westeurope", ImageID: "/subscriptions/x/providers/Microsoft.Compute/images/ubuntu"},
		},
		ScaleSets: []armsim.ScaleSet{
			{Name: "api", ResourceGroup: "app", Location: "westeurope", ImageID: strings.ToUpper(vid("soft", "img", "1.0.0"))},
			{Name: "batch", ResourceGroup: "app", Location: "westeurope", ImageID: vid("soft", "img", "2.0.0"), Flexible: true},
			{Name: "legacy", ResourceGroup: "app", Location: "westeurope", ImageID: vid("off", "img", "1.0.0"), Flexible: true},
		},
	}}}
}

func run(t *testing.T, minRetention int) Report {
	t.Helper()
	srv := httptest.NewServer(armsim.New(estate(), armsim.Options{PageSize: 2}))
	t.Cleanup(srv.Close)
	fc := clock.NewFake(t0)
	pl, err := arm.New(arm.Options{Endpoint: srv.URL, Clock: fc, RetryDelay: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	s := scanner.New(scanner.Options{Pipeline: pl, Clock: fc, DefaultRetentionDays: 7})
	snap, err := s.Scan(context.Background())
	if err != nil || len(snap.Errors) > 0 {
		t.Fatalf("scan: %v %+v", err, snap.Errors)
	}
	r, errs := Run(context.Background(), s, snap, minRetention, t0)
	if len(errs) > 0 {
		t.Fatalf("inventory: %+v", errs)
	}
	return r
}

func found(r Report, check string) []string {
	var ids []string
	for _, f := range r.Findings {
		if f.Check == check {
			ids = append(ids, f.ID[strings.LastIndex(f.ID, "/providers/")+1:])
		}
	}
	slices.Sort(ids)
	return ids
}

func TestEveryCheckFiresAndHoldsItsFire(t *testing.T) {
	r := run(t, 7)
	cases := map[string][]string{
		CheckPinnedVersion:    {"providers/Microsoft.Compute/virtualMachineScaleSets/api", "providers/Microsoft.Compute/virtualMachines/web-1"},
		CheckFlexibleScaleSet: {"providers/Microsoft.Compute/virtualMachineScaleSets/batch"}, // not "legacy": its gallery has soft delete off
		CheckSoftDeleteOff:    {"providers/Microsoft.Compute/galleries/off"},
		CheckShortRetention:   {"providers/Microsoft.Compute/galleries/short"},                          // not "soft": 7 days meets 7
		CheckFailedVersion:    {"providers/Microsoft.Compute/galleries/soft/images/img/versions/2.0.1"}, // not off/img/1.0.0
		CheckLocationMismatch: {"providers/Microsoft.Compute/galleries/soft/images/img/versions/1.0.1"},
		CheckUndeletableImage: {"providers/Microsoft.Compute/galleries/soft/images/img"}, // not "clean"
	}
	for check, want := range cases {
		if got := found(r, check); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", check, got, want)
		}
	}
	if r.Worst() != Critical || r.Findings[0].Severity != Critical {
		t.Errorf("worst = %s, first = %+v", r.Worst(), r.Findings[0])
	}
	refs := r.References[strings.ToLower(vid("soft", "img", "1.0.0"))]
	if len(refs) != 2 {
		t.Errorf("references to 1.0.0 = %+v", refs)
	}
	for _, f := range r.Findings {
		if f.Check == CheckPinnedVersion && (!strings.Contains(f.Message, "soft/img/1.0.0") || !strings.Contains(f.Action, "purgewatch recover "+vid("soft", "img", "1.0.0"))) {
			t.Errorf("pinned finding = %+v", f)
		}
	}
}

func TestMinimumRetentionIsConfigurable(t *testing.T) {
	r := run(t, 10)
	if got := found(r, CheckShortRetention); len(got) != 2 {
		t.Errorf("with 10 days required: %v", got)
	}
	r = run(t, 1)
	if got := found(r, CheckShortRetention); len(got) != 0 {
		t.Errorf("with 1 day required: %v", got)
	}
}

// TestTriageFactsAreWhatTheInventoryReadWhole: a failed version is not a live one that supersedes,
// and a listing that failed is a fact not known (unknown-usage), never an empty one.
func TestTriageFactsAreWhatTheInventoryReadWhole(t *testing.T) {
	sim := armsim.New(estate(), armsim.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	pl, err := arm.New(arm.Options{Endpoint: srv.URL, Clock: clock.NewFake(t0), RetryDelay: time.Nanosecond, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := scanner.New(scanner.Options{Pipeline: pl, Clock: clock.NewFake(t0), DefaultRetentionDays: 7})
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	verdicts := func() map[string][]triage.Reason {
		r, _ := Run(context.Background(), s, snap, 7, t0)
		out := map[string][]triage.Reason{}
		for _, v := range snap.Versions {
			out[v.Version] = triage.Judge(v, r.Facts, config.ExpectedDeletions{}).Reasons()
		}
		return out
	}
	want := map[string][]triage.Reason{"1.0.0": {triage.InUse}, "1.0.1": {}}
	if got := verdicts(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("verdicts %v, want %v (2.0.0 is live and newer; 2.0.1 failed)", got, want)
	}
	sim.Inject(armsim.Fault{Scope: "/subscriptions/" + sub + "/providers/Microsoft.Compute/virtualMachines", Status: 500, Code: "InternalError", Message: "no"})
	want = map[string][]triage.Reason{"1.0.0": {triage.InUse}, "1.0.1": {triage.UnknownUsage}}
	if got := verdicts(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("with the VM listing failing: verdicts %v, want %v", got, want)
	}
}
