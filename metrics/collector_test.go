package metrics

import (
	"flag"
	"github.com/purgewatch/purgewatch/internal/status"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/scanner"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const (
	subA = "11111111-1111-1111-1111-111111111111"
	subB = "22222222-2222-2222-2222-222222222222"
)

func fixtureView() *status.State {
	v := func(sub, rg, gal, img, ver string, deleted time.Time, retention, grace int) scanner.Version {
		t := scanner.Price(deleted, nil, nil, scanner.Policy{RetentionDays: retention, GraceDays: grace})
		return scanner.Version{ID: "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/galleries/" + gal + "/images/" + img + "/versions/" + ver,
			SubscriptionID: sub, ResourceGroup: rg, Gallery: gal, Image: img, Version: ver, Location: "westeurope",
			SoftDeletedAt: deleted, ConsumptionEndsAt: t.ConsumptionEndsAt, PurgeAt: t.PurgeAt, PurgeAtSource: t.PurgeAtSource}
	}
	snap := &scanner.Snapshot{
		ScannedAt: now,
		Versions: []scanner.Version{
			v(subA, "rg1", "prod", "ubuntu", "1.0.0", now.Add(-7*24*time.Hour-time.Hour), 7, 0), // overdue 1h
			v(subA, "rg1", "prod", "ubuntu", "1.1.0", now.Add(-6*24*time.Hour), 7, 0),
			v(subB, "rg2", "platform", "aks", "2024.9.0", now.Add(-8*24*time.Hour), 7, 30),
		},
		Galleries: []scanner.Gallery{
			{ID: "g1", SubscriptionID: subA, ResourceGroup: "rg1", Name: "prod", Location: "westeurope", SoftDeleteEnabled: true, RetentionDays: 7},
			{ID: "g2", SubscriptionID: subA, ResourceGroup: "rg1", Name: "legacy", Location: "westeurope", RetentionDays: 7},
			{ID: "g3", SubscriptionID: subB, ResourceGroup: "rg2", Name: "platform", Location: "westeurope", SoftDeleteEnabled: true, RetentionDays: 7, GraceDays: 30},
		},
	}
	refs := map[string][]scanner.Workload{
		strings.ToLower(snap.Versions[0].ID): {{Kind: "vm", ID: "/subscriptions/x/vm1"}, {Kind: "vm", ID: "/subscriptions/x/vm2"}, {Kind: "vmss", ID: "/subscriptions/x/ss"}},
	}
	return &status.State{Snapshot: snap, Audit: &audit.Report{References: refs, Findings: []audit.Finding{
		{Severity: audit.Critical, Check: audit.CheckPinnedVersion}, {Severity: audit.Critical, Check: audit.CheckPinnedVersion},
		{Severity: audit.Warning, Check: audit.CheckSoftDeleteOff},
	}}, Subscriptions: []status.SubscriptionHealth{
		{ID: subA, Success: true, LastSuccess: now},
		{ID: subB, Success: false, LastSuccess: now.Add(-time.Hour)},
		{ID: "33333333-3333-3333-3333-333333333333", Success: false}, // never succeeded: no timestamp
	}}
}

func TestCollectorMatchesGolden(t *testing.T) {
	c := NewSnapshotCollector(fixtureView, func() time.Time { return now }, true)
	golden := "testdata/snapshot.prom"
	if *update {
		writeGolden(t, c, golden)
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.CollectAndCompare(c, f); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "purgewatch_soft_deleted_version_purge_timestamp_seconds"); n != 3 {
		t.Errorf("purge timestamps = %d, want one per version", n)
	}
}

func TestCollectorWithoutRelativeMetricOrSnapshot(t *testing.T) {
	c := NewSnapshotCollector(fixtureView, func() time.Time { return now }, false)
	if n := testutil.CollectAndCount(c, "purgewatch_soft_deleted_version_seconds_until_purge"); n != 0 {
		t.Errorf("metrics.relative: false still exports %d relative series", n)
	}
	c.SetRelative(true)
	if n := testutil.CollectAndCount(c, "purgewatch_soft_deleted_version_seconds_until_purge"); n != 3 {
		t.Errorf("relative series = %d after SetRelative(true)", n)
	}
	empty := NewSnapshotCollector(func() *status.State { return &status.State{} }, time.Now, true)
	if n := testutil.CollectAndCount(empty); n != 0 {
		t.Errorf("no snapshot yet, but %d series", n)
	}
}

// TestVersionsLeaveWithTheSnapshot: series come from the snapshot of the moment, so a version
// gone from the recycle bin leaves /metrics at the next scan.
func TestVersionsLeaveWithTheSnapshot(t *testing.T) {
	view := fixtureView()
	c := NewSnapshotCollector(func() *status.State { return view }, func() time.Time { return now }, true)
	before := testutil.CollectAndCount(c)
	next := *view.Snapshot
	next.Versions = next.Versions[1:]
	view = &status.State{Snapshot: &next, Subscriptions: view.Subscriptions, Audit: &audit.Report{Findings: view.Audit.Findings}}
	if after := testutil.CollectAndCount(c); after != before-6 {
		t.Errorf("series %d -> %d, want the 4 of the removed version and its 2 reference series gone", before, after)
	}
}

func TestProcessMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	p := NewProcess(reg, "1.2.3", "abc")
	want := `
# HELP purgewatch_scans_total Scans by result: success, partial (some scopes failed), failed (nothing read), skipped (the previous scan was still running).
# TYPE purgewatch_scans_total counter
purgewatch_scans_total{result="failed"} 0
purgewatch_scans_total{result="partial"} 1
purgewatch_scans_total{result="skipped"} 1
purgewatch_scans_total{result="success"} 0
# HELP purgewatch_scan_errors_total Scopes that could not be read, by reason.
# TYPE purgewatch_scan_errors_total counter
purgewatch_scan_errors_total{reason="bad_response"} 0
purgewatch_scan_errors_total{reason="forbidden"} 2
purgewatch_scan_errors_total{reason="not_found"} 0
purgewatch_scan_errors_total{reason="server_error"} 0
purgewatch_scan_errors_total{reason="throttled"} 1
purgewatch_scan_errors_total{reason="timeout"} 0
# HELP purgewatch_azure_requests_total ARM requests sent, by operation and HTTP status (error: no response).
# TYPE purgewatch_azure_requests_total counter
purgewatch_azure_requests_total{code="200",operation="list_galleries"} 1
purgewatch_azure_requests_total{code="error",operation="list_images"} 1
# HELP purgewatch_azure_ratelimit_remaining_reads The last x-ms-ratelimit-remaining-subscription-reads ARM sent for the subscription.
# TYPE purgewatch_azure_ratelimit_remaining_reads gauge
purgewatch_azure_ratelimit_remaining_reads{subscription_id="` + subA + `"} 249
`
	p.ScanSkipped()
	p.ScanFinished(status.ResultPartial, 2*time.Second, []scanner.ScopeError{{Reason: scanner.ReasonForbidden}, {Reason: scanner.ReasonForbidden}, {Reason: scanner.ReasonThrottled}})
	p.Request("list_galleries", 200, subA, 249)
	p.Request("list_images", 0, subA, -1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "purgewatch_scans_total", "purgewatch_scan_errors_total",
		"purgewatch_azure_requests_total", "purgewatch_azure_ratelimit_remaining_reads"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "purgewatch_build_info"); n != 1 {
		t.Errorf("build_info series = %d", n)
	}
}

// writeGolden regenerates a golden file: go test ./metrics -run Golden -update. Review the diff.
func writeGolden(t *testing.T, c prometheus.Collector, path string) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentScrapesShareTheSeries: the series built for a snapshot are read by scrapes at
// once (run with -race), and rebuilt only when the snapshot changes.
func TestConcurrentScrapesShareTheSeries(t *testing.T) {
	view := fixtureView()
	c := NewSnapshotCollector(func() *status.State { return view }, func() time.Time { return now }, true)
	done := make(chan int)
	for range 4 {
		go func() { done <- testutil.CollectAndCount(c) }()
	}
	for range 4 {
		if n := <-done; n != 3*4+3*4+3+2+2+7 { // versions, galleries, health, references, findings
			t.Errorf("series = %d", n)
		}
	}
	built := c.series.Load()
	testutil.CollectAndCount(c)
	if c.series.Load() != built {
		t.Error("series rebuilt for the same snapshot")
	}
}
