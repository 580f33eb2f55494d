package metrics

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/status"
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
		tags := map[string]string{"owner": "team-" + gal, "cost-center": strings.Repeat("x", 130)} // an image's own tags over its gallery's, one too long
		return scanner.Version{Definition: &scanner.Definition{SubscriptionID: sub, ResourceGroup: rg, Gallery: gal, Image: img, Tags: tags},
			Version: ver, Location: "westeurope",
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
			{ID: "g1", SubscriptionID: subA, ResourceGroup: "rg1", Name: "prod", Location: "westeurope", SoftDeleteEnabled: true, RetentionDays: 7,
				Tags: map[string]string{"owner": "team-prod", "env": "prod"}},
			{ID: "g2", SubscriptionID: subA, ResourceGroup: "rg1", Name: "legacy", Location: "westeurope", RetentionDays: 7},
			{ID: "g3", SubscriptionID: subB, ResourceGroup: "rg2", Name: "platform", Location: "westeurope", SoftDeleteEnabled: true, RetentionDays: 7, GraceDays: 30},
		},
	}
	// Triage: the overdue one is in use and the newest; the next routine; the last not judged
	// (no sample in purgewatch_soft_deleted_version_info).
	snap.Versions[0].Triage, snap.Versions[1].Triage = []string{"in-use", "newest"}, []string{}
	snap.Versions[1].RetainedBytes = 260 << 30 // seen live: 130 GiB in two regions
	refs := map[string][]scanner.Workload{
		strings.ToLower(snap.Versions[0].ID()): {{Kind: "vm", ID: "/subscriptions/x/vm1"}, {Kind: "vm", ID: "/subscriptions/x/vm2"}, {Kind: "vmss", ID: "/subscriptions/x/ss"}},
	}
	return &status.State{Snapshot: snap, Audit: &audit.Report{References: refs, Findings: []audit.Finding{
		{Severity: audit.Critical, Check: audit.CheckPinnedVersion}, {Severity: audit.Critical, Check: audit.CheckPinnedVersion},
		{Severity: audit.Warning, Check: audit.CheckSoftDeleteOff},
	}, Consumed: []scanner.ConsumedVersion{{Kind: scanner.ConsumedCommunity, ID: "/CommunityGalleries/contoso-public-1a2b/Images/ubuntu/Versions/1.0.3",
		Gallery: "contoso-public-1a2b", Image: "ubuntu", Version: "1.0.3", Location: "westeurope", State: "SoftDeleted",
		ConsumptionEndsAt: now.Add(36 * time.Hour), Workloads: []string{"/subscriptions/x/ss"}}},
	}, Subscriptions: []status.SubscriptionHealth{
		{ID: subA, Success: true, LastSuccess: now},
		{ID: subB, Success: false, LastSuccess: now.Add(-time.Hour)},
		{ID: "33333333-3333-3333-3333-333333333333", Success: false}, // never succeeded: no timestamp
	}}
}

// scrape is one /metrics request to an Exposition over st, with the registry that run builds
// around it (here only the collector's own part), asking as accept and acceptEncoding say.
func scrape(t testing.TB, e *Exposition, accept, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	resp := rec.Result()
	body := rec.Body.Bytes()
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body)) // reads every member
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return resp, body
}

func newExposition(state func() *status.State, relative bool) *Exposition {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewSnapshotCollector(state))
	e := NewExposition(reg, state, func() time.Time { return now }, relative, nil)
	e.SetTagLabels([]string{"owner", "cost-center"}) // cost-center: a name a label cannot hold as it is
	return e
}

// series counts the samples of name (every sample when name is "") in a text exposition.
func series(t testing.TB, body []byte, name string) int {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not a valid exposition: %v\n%s", err, body)
	}
	n := 0
	for fname, mf := range families {
		if name == "" || fname == name {
			n += len(mf.GetMetric())
		}
	}
	return n
}

func TestExpositionMatchesGolden(t *testing.T) {
	e := newExposition(fixtureView, true)
	_, body := scrape(t, e, "text/plain", "")
	golden := "testdata/snapshot.prom"
	if *update {
		if err := os.WriteFile(golden, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("exposition differs from %s (go test ./metrics -run Golden -update, then review the diff):\n%s", golden, body)
	}
	if n := series(t, body, "purgewatch_soft_deleted_version_purge_timestamp_seconds"); n != 3 {
		t.Errorf("purge series = %d", n)
	}
	for _, want := range []string{`reasons="in-use,newest",resource_group="rg1",routine="false",subscription_id="` + subA + `",version="1.0.0"} 1`,
		`reasons="",resource_group="rg1",routine="true",subscription_id="` + subA + `",version="1.1.0"} 1`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("purgewatch_soft_deleted_version_info lacks %s", want)
		}
	}
	if n := series(t, body, "purgewatch_soft_deleted_version_info"); n != 2 {
		t.Errorf("info series = %d, want the 2 judged versions", n)
	}
}

// The same exposition in OpenMetrics and gzipped: one stream, as Prometheus negotiates it.
func TestExpositionSpeaksOpenMetricsAndGzip(t *testing.T) {
	e := newExposition(fixtureView, true)
	_, text := scrape(t, e, "text/plain", "")
	const prometheusAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	resp, om := scrape(t, e, prometheusAccept, "gzip")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Type %q, Content-Encoding %q", ct, resp.Header.Get("Content-Encoding"))
	}
	if !bytes.HasSuffix(om, []byte("\n# EOF\n")) || bytes.Count(om, []byte("# EOF")) != 1 {
		t.Errorf("OpenMetrics must end with one # EOF:\n%s", om[max(0, len(om)-200):])
	}
	if !bytes.Contains(om, []byte(`purgewatch_gallery_soft_delete_grace_seconds{gallery="platform",location="westeurope",resource_group="rg2",subscription_id="22222222-2222-2222-2222-222222222222"} 2.592e+06`)) {
		t.Error("OpenMetrics marks integral values with .0")
	}
	// Same samples: strip the format's differences and compare line sets.
	lines := func(b []byte) map[string]bool {
		out := map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			i := strings.LastIndexByte(l, ' ') // the value follows the last space, labels or none
			name, value := l[:i], l[i+1:]
			if f, err := strconv.ParseFloat(value, 64); err == nil {
				value = strconv.FormatFloat(f, 'g', -1, 64)
			}
			out[name+" "+value] = true
		}
		return out
	}
	if a, b := lines(text), lines(om); len(a) != len(b) || len(a) == 0 {
		t.Errorf("text has %d samples, OpenMetrics %d", len(a), len(b))
	} else {
		for l := range a {
			if !b[l] {
				t.Errorf("OpenMetrics lacks %s", l)
			}
		}
	}
	_, plainAgain := scrape(t, e, "text/plain", "gzip;q=0")
	if !bytes.Equal(plainAgain, text) {
		t.Error("gzip;q=0 is a refusal")
	}
}

func TestExpositionWithoutRelativeMetricOrSnapshot(t *testing.T) {
	e := newExposition(fixtureView, false)
	if _, body := scrape(t, e, "", ""); series(t, body, "purgewatch_soft_deleted_version_seconds_until_purge") != 0 {
		t.Errorf("relative: false still exports seconds_until_purge")
	}
	e.SetRelative(true)
	if _, body := scrape(t, e, "", ""); series(t, body, "purgewatch_soft_deleted_version_seconds_until_purge") != 3 {
		t.Errorf("SetRelative(true) did not take effect")
	}
	empty := newExposition(func() *status.State { return &status.State{} }, true)
	if _, body := scrape(t, empty, "", ""); series(t, body, "") != 0 {
		t.Errorf("no snapshot yet, yet series:\n%s", body)
	}
}

// TestVersionsLeaveWithTheSnapshot: series come from the state of the moment, so a version gone
// from the recycle bin leaves /metrics at the next scan.
func TestVersionsLeaveWithTheSnapshot(t *testing.T) {
	view := fixtureView()
	e := newExposition(func() *status.State { return view }, true)
	_, body := scrape(t, e, "", "")
	before := series(t, body, "")
	next := *view.Snapshot
	next.Versions = next.Versions[1:]
	view = &status.State{Snapshot: &next, Subscriptions: view.Subscriptions, Audit: &audit.Report{Findings: view.Audit.Findings, Consumed: view.Audit.Consumed}}
	_, body = scrape(t, e, "", "")
	if after := series(t, body, ""); after != before-7 {
		t.Errorf("series %d -> %d, want the 5 of the removed version and its 2 reference series gone", before, after)
	}
}

func TestProcessMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	p := NewProcess(reg)
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

// TestConcurrentScrapesShareTheRendering: the bytes rendered for a state are read by scrapes at
// once (run with -race), and rendered again only when the state changes.
func TestConcurrentScrapesShareTheRendering(t *testing.T) {
	view := fixtureView()
	e := newExposition(func() *status.State { return view }, true)
	done := make(chan int)
	for range 4 {
		go func() { _, body := scrape(t, e, "", "gzip"); done <- series(t, body, "") }()
	}
	for range 4 {
		// versions, their triage, galleries, health, references, findings, discovery, rows out of
		// scope, future deletions, and the galleries' and image definitions' info
		// and the one version whose size is known, and the one consumed version its publisher deleted
		if n := <-done; n != 3*4+2+3*4+3+2+2+8+1+1+1+3+2+1+2 {
			t.Errorf("series = %d", n)
		}
	}
	built := e.current()
	scrape(t, e, "", "")
	if e.current() != built {
		t.Error("rendered again for the same state")
	}
	view = fixtureView()
	scrape(t, e, "", "")
	if e.current() == built {
		t.Error("a new state was not rendered")
	}
}

// TestPrerenderLeavesNoScrapeToRender: after Prerender, both formats of the published state are
// rendered, and a scrape in either only copies them.
func TestPrerenderLeavesNoScrapeToRender(t *testing.T) {
	view := fixtureView()
	e := newExposition(func() *status.State { return view }, false)
	e.Prerender()
	c := e.current()
	if c == nil || c.gzipped[0] == nil || c.gzipped[1] == nil {
		t.Fatal("Prerender left a format to render")
	}
	text, om := c.gzipped[0], c.gzipped[1]
	scrape(t, e, "", "gzip")
	scrape(t, e, "application/openmetrics-text; version=1.0.0", "gzip")
	if e.current() != c || &e.current().gzipped[0][0] != &text[0] || &e.current().gzipped[1][0] != &om[0] {
		t.Error("a scrape rendered the state again")
	}
}
