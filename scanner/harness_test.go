package scanner_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/scanner"
)

// t0 is the fixed "now" of the scanner tests.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const (
	subA = "11111111-1111-1111-1111-111111111111"
	subB = "22222222-2222-2222-2222-222222222222"
)

type harness struct {
	sim     *armsim.Server
	clock   *clock.Fake
	scanner *scanner.Scanner
	pl      *arm.Pipeline
}

type harnessOpts struct {
	sim      armsim.Options
	pipeline arm.Options
	scanner  scanner.Options
}

// newHarness serves estate from the simulator over real HTTP and points a Scanner at it, as
// --demo does, with a fake clock for every wait.
func newHarness(t testing.TB, estate armsim.Estate, o harnessOpts) *harness {
	t.Helper()
	fc := clock.NewFake(t0)
	if o.sim.Clock == nil {
		o.sim.Clock = fc
	}
	sim := armsim.New(estate, o.sim)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	po := o.pipeline
	po.Endpoint, po.Clock = srv.URL, fc
	if po.RetryDelay == 0 {
		// azcore sleeps on the wall clock between 5xx retries; keep that negligible. (A negative
		// delay is no good: azcore reads 0 as an overflow and waits its 60 s cap.)
		po.RetryDelay = time.Nanosecond
	}
	pl, err := arm.New(po)
	if err != nil {
		t.Fatal(err)
	}
	so := o.scanner
	so.Pipeline, so.Clock = pl, fc
	return &harness{sim: sim, clock: fc, scanner: scanner.New(so), pl: pl}
}

func days(n int) *int { return &n }

// twoSubscriptions is a small estate with one of every policy shape.
func twoSubscriptions() armsim.Estate {
	return armsim.Estate{Subscriptions: []armsim.Subscription{
		{ID: subA, Galleries: []armsim.Gallery{
			{Name: "g2024", ResourceGroup: "rg1", Location: "West US", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true},
				Tags: map[string]string{"owner": "team-a"},
				Images: []armsim.Image{{Name: "ubuntu", Tags: map[string]string{"os": "linux"}, SoftDeleted: []armsim.SoftDeleted{
					{Version: "1.0.0", DeletedAt: t0.Add(-6 * 24 * time.Hour)},
					{Version: "1.0.1", DeletedAt: t0.Add(-1 * time.Hour)},
				}}}},
			{Name: "offgallery", ResourceGroup: "rg1", Location: "West US",
				Images: []armsim.Image{{Name: "old", SoftDeleted: []armsim.SoftDeleted{
					{Version: "0.9.0", DeletedAt: t0.Add(-2 * 24 * time.Hour)},
				}}}},
		}},
		{ID: subB, Galleries: []armsim.Gallery{
			{Name: "g2026", ResourceGroup: "rg2", Location: "East US 2", ServiceTimes: true,
				SoftDelete: &armsim.SoftDeletePolicy{Enabled: true, RetentionDays: days(7), GraceDays: days(30)},
				Images: []armsim.Image{
					{Name: "win", SoftDeleted: []armsim.SoftDeleted{{Version: "2.0.0", DeletedAt: t0.Add(-8 * 24 * time.Hour)}}},
					{Name: "empty"},
				}},
		}},
	}}
}
