package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/reload"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/metrics"
	"github.com/purgewatch/purgewatch/scanner"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type fixture struct {
	clock *clock.Fake
	d     *Daemon
	sim   *armsim.Server
	reg   *prometheus.Registry
	path  string
	// reload applies the file at path to the daemon, as `run` does.
	reload *reload.Coordinator
}

// newFixture runs a Daemon whose real scanner reads the demo estate from the simulator over HTTP.
func newFixture(t *testing.T, simOpts armsim.Options, configYAML string) *fixture {
	t.Helper()
	return newFixtureWith(t, simOpts, configYAML, nil)
}

// newFixtureWith lets a test add to the daemon's options (an announcer) before it is built.
func newFixtureWith(t *testing.T, simOpts armsim.Options, configYAML string, extra func(*Options, *clock.Fake)) *fixture {
	t.Helper()
	sim := armsim.New(armsim.DemoEstate(t0), simOpts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "config.yaml")
	write(t, path, configYAML)
	load := func() (*config.Config, error) {
		cfg, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		cfg.Azure.Endpoint, cfg.Azure.Auth = srv.URL, config.AuthNone
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	proc := metrics.NewProcess(reg)
	fc := clock.NewFake(t0)
	scans := &inEffect{clock: fc, observer: proc}
	apply, err := scans.Prepare(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	apply()
	opts := Options{Scanner: scans, Clock: fc, Metrics: proc}
	if extra != nil {
		extra(&opts, fc)
	}
	d, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	coord := reload.New(cfg, load, nil, proc.ConfigLoaded)
	coord.Register(scans, d)
	return &fixture{d: d, sim: sim, reg: reg, path: path, clock: fc, reload: coord}
}

// inEffect is the scanner of the configuration in effect, rebuilt on each reload as
// azure.InEffect is in `run`, here on the fixture's fake clock.
type inEffect struct {
	clock    *clock.Fake
	observer arm.Observer
	current  atomic.Pointer[scanner.Scanner]
}

func (s *inEffect) Prepare(_, next *config.Config) (func(), error) {
	pl, err := arm.New(arm.Options{Endpoint: next.Azure.Endpoint, Clock: s.clock, RetryDelay: time.Nanosecond, Observer: s.observer})
	if err != nil {
		return nil, err
	}
	sc := scanner.New(scanner.Options{Pipeline: pl, Clock: s.clock, DefaultRetentionDays: next.Retention.DefaultDays})
	return func() { s.current.Store(sc) }, nil
}

func (s *inEffect) Scan(ctx context.Context) (*scanner.Snapshot, error) {
	return s.current.Load().Scan(ctx)
}

func (s *inEffect) Inventory(ctx context.Context, subs []string, images []scanner.ImageDefinition) *scanner.Inventory {
	return s.current.Load().Inventory(ctx, subs, images)
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
			if label == "" {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("%s{%s=%q} not found", name, label, value)
	return 0
}

func TestReadyOnlyAfterTheFirstScan(t *testing.T) {
	f := newFixture(t, armsim.Options{}, "")
	if f.d.State().Ready || f.d.State().Snapshot != nil {
		t.Fatal("ready before any scan")
	}
	rec := f.d.ScanOnce(context.Background())
	if rec.Result != status.ResultSuccess || rec.Versions != 10 {
		t.Fatalf("first scan = %+v", rec)
	}
	st := f.d.State()
	if !st.Ready || len(st.Snapshot.Versions) != 10 || len(st.History) != 1 || len(st.Subscriptions) != 3 {
		t.Errorf("state after the first scan: ready=%v versions=%d history=%d subs=%d",
			st.Ready, len(st.Snapshot.Versions), len(st.History), len(st.Subscriptions))
	}
}

func TestFailedSubscriptionKeepsItsSeries(t *testing.T) {
	f := newFixture(t, armsim.Options{}, "")
	f.d.ScanOnce(context.Background())
	first := f.d.State()

	f.sim.Inject(armsim.Fault{Scope: "/subscriptions/" + armsim.DemoPlatform, Status: http.StatusForbidden,
		Code: "AuthorizationFailed", Message: "role assignment removed"})
	rec := f.d.ScanOnce(context.Background())
	if rec.Result != status.ResultPartial || len(rec.Errors) != 1 {
		t.Fatalf("second scan = %+v", rec)
	}
	st := f.d.State()
	if len(st.Snapshot.Versions) != len(first.Snapshot.Versions) {
		t.Errorf("versions %d -> %d: the failed subscription lost its data", len(first.Snapshot.Versions), len(st.Snapshot.Versions))
	}
	for _, h := range st.Subscriptions {
		if h.ID == armsim.DemoPlatform && (h.Success || h.LastSuccess.IsZero()) {
			t.Errorf("platform health = %+v, want failed with its last success kept", h)
		}
		if h.ID == armsim.DemoProduction && !h.Success {
			t.Errorf("production health = %+v", h)
		}
	}
	if got := counter(t, f.reg, "purgewatch_scan_errors_total", "reason", "forbidden"); got != 1 {
		t.Errorf("forbidden errors = %v", got)
	}
	if got := counter(t, f.reg, "purgewatch_scans_total", "result", "partial"); got != 1 {
		t.Errorf("partial scans = %v", got)
	}
}

func TestNothingReadKeepsTheLastSnapshot(t *testing.T) {
	f := newFixture(t, armsim.Options{}, "")
	f.d.ScanOnce(context.Background())
	first := f.d.State()
	if !first.Healthy() || counter(t, f.reg, "purgewatch_scan_healthy", "", "") != 1 {
		t.Fatal("a complete scan is healthy")
	}
	f.sim.Inject(armsim.Fault{Scope: "/subscriptions", Status: 401, Code: "InvalidAuthenticationToken", Message: "expired"})
	rec := f.d.ScanOnce(context.Background())
	if rec.Result != status.ResultFailed || len(rec.Errors) != 1 || rec.Errors[0].Scope != "/" || rec.Errors[0].Code != "InvalidAuthenticationToken" {
		t.Fatalf("scan = %+v, want failed with the root-scope error", rec)
	}
	st := f.d.State()
	if len(st.Snapshot.Versions) != 10 {
		t.Errorf("versions = %d, want the last good 10", len(st.Snapshot.Versions))
	}
	if len(st.Subscriptions) != len(first.Subscriptions) || len(st.Subscriptions) == 0 {
		t.Fatalf("subscription health %+v: the subscriptions it could not list must stay, as failed", st.Subscriptions)
	}
	for _, h := range st.Subscriptions {
		if h.Success || !h.LastSuccess.Equal(t0) {
			t.Errorf("%+v: want failed, with its last success kept", h)
		}
	}
	if got := counter(t, f.reg, "purgewatch_scan_healthy", "", ""); got != 0 {
		t.Errorf("purgewatch_scan_healthy = %v after a blind scan", got)
	}
	if got := counter(t, f.reg, "purgewatch_last_complete_scan_timestamp_seconds", "", ""); got != float64(t0.Unix()) {
		t.Errorf("last complete scan = %v, want the first scan's %d", got, t0.Unix())
	}
	if st.Healthy() || !st.BlindSince().Equal(t0) {
		t.Errorf("healthy=%v blind since %v", st.Healthy(), st.BlindSince())
	}
}

func TestOverlappingTicksAreSkipped(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f := newFixture(t, armsim.Options{OnRequest: func(*http.Request) {
		once.Do(func() { close(entered); <-release }) // hold the first request of the first scan
	}}, "")
	done := make(chan status.ScanRecord)
	go func() { done <- f.d.ScanOnce(context.Background()) }()
	<-entered
	if rec := f.d.ScanOnce(context.Background()); rec.Result != status.ResultSkipped {
		t.Errorf("second tick during a scan = %+v, want skipped", rec)
	}
	close(release)
	if rec := <-done; rec.Result != status.ResultSuccess {
		t.Errorf("first scan = %+v", rec)
	}
	if got := counter(t, f.reg, "purgewatch_scans_total", "result", "skipped"); got != 1 {
		t.Errorf("skipped = %v", got)
	}
	if n := len(f.d.State().History); n != 1 {
		t.Errorf("history = %d, want only the scan that ran", n)
	}
}

func TestReloadGoodAndBad(t *testing.T) {
	f := newFixture(t, armsim.Options{}, "scan:\n  schedule: \"*/15 * * * *\"\n")
	write(t, f.path, "scan:\n  schedule: \"@every 5m\"\nretention:\n  defaultDays: 9\n")
	if err := f.reload.Reload(); err != nil {
		t.Fatal(err)
	}
	if c := f.d.Config(); c.Scan.Schedule != "@every 5m" || c.Retention.DefaultDays != 9 {
		t.Errorf("config after reload = %+v", c.Scan)
	}
	if got := counter(t, f.reg, "purgewatch_config_last_reload_successful", "", ""); got != 1 {
		t.Errorf("reload_successful = %v", got)
	}
	// The new scanner is in use: legacyimages reports no policy, so the new default applies.
	f.d.ScanOnce(context.Background())
	for _, g := range f.d.State().Snapshot.Galleries {
		if g.Name == "legacyimages" && g.RetentionDays != 9 {
			t.Errorf("legacyimages retention = %d after reload", g.RetentionDays)
		}
	}

	write(t, f.path, "scan:\n  schedule: \"every now and then\"\n")
	err := f.reload.Reload()
	if err == nil || !strings.Contains(err.Error(), "config.yaml:2: scan.schedule") {
		t.Fatalf("bad reload: %v", err)
	}
	if c := f.d.Config(); c.Scan.Schedule != "@every 5m" {
		t.Errorf("a refused reload changed the schedule to %q", c.Scan.Schedule)
	}
	if got := counter(t, f.reg, "purgewatch_config_last_reload_successful", "", ""); got != 0 {
		t.Errorf("reload_successful = %v after a refused reload", got)
	}
}

func TestRunScansAtStartAndStopsCleanly(t *testing.T) {
	scanned := make(chan struct{}, 64)
	f := newFixture(t, armsim.Options{OnRequest: func(r *http.Request) {
		if strings.Contains(r.URL.Path, "softdeletedartifacttypes") {
			select {
			case scanned <- struct{}{}:
			default:
			}
		}
	}}, "scan:\n  schedule: \"@every 1h\"\n")
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- f.d.Run(ctx) }()
	<-scanned // the start-up scan reached the recycle bins
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if !f.d.State().Ready {
		t.Error("Run returned before its start-up scan recorded a result")
	}
	// goleak (TestMain) checks that the scheduler and every scan goroutine are gone.
}

func TestEachScanIsAudited(t *testing.T) {
	f := newFixture(t, armsim.Options{}, "")
	f.d.ScanOnce(context.Background())
	st := f.d.State()
	if st.Audit == nil || st.Audit.Worst() != "critical" {
		t.Fatalf("audit = %+v", st.Audit)
	}
	id := "/subscriptions/" + armsim.DemoProduction + "/resourcegroups/rg-images-prod/providers/microsoft.compute/galleries/prodimages/images/ubuntu-22.04-base/versions/1.2.0"
	refs := st.Audit.References[id]
	if len(refs) != 1 || !strings.HasSuffix(refs[0].ID, "/virtualMachines/web-prod-01") {
		t.Errorf("references to 1.2.0 = %+v", refs)
	}

	off := newFixture(t, armsim.Options{}, "audit:\n  enabled: false\n")
	off.d.ScanOnce(context.Background())
	if st := off.d.State(); st.Audit != nil {
		t.Error("audit.enabled: false still audits")
	}
}

// Settle runs once after each scan, once the scan is published: `run` releases memory there.
func TestSettleRunsAfterEachPublishedScan(t *testing.T) {
	var settled []int
	var f *fixture
	f = newFixtureWith(t, armsim.Options{}, "", func(o *Options, _ *clock.Fake) {
		o.Settle = func() { settled = append(settled, len(f.d.State().History)) }
	})
	f.d.ScanOnce(t.Context())
	f.d.ScanOnce(t.Context())
	if len(settled) != 2 || settled[0] != 1 || settled[1] != 2 {
		t.Errorf("settled after %v published scans, want once after each", settled)
	}
}
