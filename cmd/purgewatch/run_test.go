package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/testtool"
	"github.com/purgewatch/purgewatch/scanner"
)

// daemonUnderTest is `purgewatch run` in-process, on a free loopback port.
type daemonUnderTest struct {
	base   string
	reload chan os.Signal
	cancel context.CancelFunc
	exit   chan int
	logs   *testtool.SyncBuffer
	stdout *testtool.SyncBuffer
	client *http.Client
}

func startDaemon(t *testing.T, args ...string) *daemonUnderTest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	d := &daemonUnderTest{reload: make(chan os.Signal, 1), cancel: cancel, exit: make(chan int, 1), logs: &testtool.SyncBuffer{}, stdout: &testtool.SyncBuffer{},
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}}
	go func() {
		d.exit <- execute(ctx, append([]string{"run", "--web.listen-address=127.0.0.1:0"}, args...), d.stdout, d.logs, runHooks{listening: listening, reload: d.reload})
	}()
	select {
	case addr := <-listening:
		d.base = "http://" + addr
	case code := <-d.exit:
		t.Fatalf("run exited with %d before listening:\n%s", code, d.logs.String())
	}
	t.Cleanup(func() { d.stop(t) })
	return d
}

// stop sends what SIGTERM sends and waits for exit 0.
func (d *daemonUnderTest) stop(t *testing.T) {
	t.Helper()
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.cancel = nil
	if code := <-d.exit; code != exitOK {
		t.Errorf("run exited with %d:\n%s", code, d.logs.String())
	}
}

func (d *daemonUnderTest) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := d.client.Get(d.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitReady polls /readyz: readiness is what is under test, and the first scan takes as long as it takes.
func (d *daemonUnderTest) waitReady(t *testing.T) {
	t.Helper()
	testtool.Eventually(t, 20*time.Second, "/readyz", func() bool {
		code, _ := d.get(t, "/readyz")
		return code == http.StatusOK
	}, d.logs.String)
}

func TestRunDemoServesMetricsAndTheSnapshot(t *testing.T) {
	d := startDaemon(t, "--demo")
	d.waitReady(t)
	if code, body := d.get(t, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	code, metricsText := d.get(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`purgewatch_soft_deleted_version_purge_timestamp_seconds{gallery="prodimages",image="ubuntu-22.04-base",location="westeurope",resource_group="rg-images-prod",subscription_id="1f0c3a52-6d0e-4b8e-9a51-2a7c3e5d9b01",version="1.2.0"}`,
		`purgewatch_gallery_soft_delete_enabled{gallery="legacyimages",location="westeurope",resource_group="rg-legacy",subscription_id="1f0c3a52-6d0e-4b8e-9a51-2a7c3e5d9b01"} 0`,
		`purgewatch_scans_total{result="success"} 1`,
		`purgewatch_scan_success{subscription_id="7b2e9d14-0c3f-4a6b-8e27-5f1d2c4b6a02"} 1`,
		`purgewatch_azure_requests_total{code="200",operation="list_soft_deleted_versions"} 7`,
		`purgewatch_config_last_reload_successful 1`,
		// who deleted each, from the Activity Log: one query per subscription with a version in a bin
		`purgewatch_azure_requests_total{code="200",operation="list_activity_log"} 2`,
		`deleted_by="alice@contoso.com",gallery="prodimages",image="ubuntu-22.04-base"`,
		`purgewatch_build_info{branch="",goarch="`,
	} {
		if !strings.Contains(metricsText, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	code, body := d.get(t, "/api/v1/versions")
	var doc struct {
		Versions []struct {
			Version           string `json:"version"`
			SecondsUntilPurge int64  `json:"secondsUntilPurge"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(body), &doc); code != 200 || err != nil || len(doc.Versions) != 10 || doc.Versions[0].SecondsUntilPurge >= 0 {
		t.Errorf("/api/v1/versions = %d, %v, %+v", code, err, doc.Versions)
	}
}

func TestPromtoolAcceptsTheMetrics(t *testing.T) {
	promtool := requireTool(t, "promtool")
	d := startDaemon(t, "--demo")
	d.waitReady(t)
	_, text := d.get(t, "/metrics")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil { // exit 3 is lint only, and purgewatch's names take none
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestReloadBySignalAndByHTTP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write := func(body string) {
		if err := os.WriteFile(path, []byte("server:\n  enableLifecycle: true\n"+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("metrics:\n  relative: true\n")
	d := startDaemon(t, "--demo", "--config", path)
	d.waitReady(t)
	if _, text := d.get(t, "/metrics"); !strings.Contains(text, "purgewatch_soft_deleted_version_seconds_until_purge{") {
		t.Fatal("relative metric missing at start")
	}

	write("metrics:\n  relative: false\n")
	resp, err := d.client.Post(d.base+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /-/reload = %v, %v", resp, err)
	}
	resp.Body.Close()
	if _, text := d.get(t, "/metrics"); strings.Contains(text, "purgewatch_soft_deleted_version_seconds_until_purge{") {
		t.Error("metrics.relative: false did not take effect on reload")
	}

	write("metrics:\n  relative: maybe\n")
	resp, err = d.client.Post(d.base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(body), "config.yaml:4: metrics.relative") {
		t.Errorf("bad reload over HTTP = %d %s", resp.StatusCode, body)
	}
	if _, text := d.get(t, "/metrics"); !strings.Contains(text, "purgewatch_config_last_reload_successful 0") {
		t.Error("a refused reload is not counted")
	}

	// SIGHUP takes the same path.
	write("metrics:\n  relative: true\n")
	d.reload <- nil
	testtool.Eventually(t, 10*time.Second, "the SIGHUP reload applied", func() bool {
		_, text := d.get(t, "/metrics")
		return strings.Contains(text, "purgewatch_config_last_reload_successful 1")
	}, d.logs.String)
}

// The Prometheus-style flags override their config keys, and a reload keeps them: the config
// says no lifecycle API and JSON logs, the flags say otherwise. --listen, the old name, adds a
// second address beside --web.listen-address.
func TestRunFlagsOverrideTheConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("server:\n  enableLifecycle: false\nlog:\n  format: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--demo", "--config.file", path, "--web.enable-lifecycle", "--log.format=console", "--listen", "127.0.0.1:0",
		"--web.external-url", "https://purgewatch.example.com/")
	d.waitReady(t)
	for range 2 { // the second reload runs on what the first applied
		resp, err := d.client.Post(d.base+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /-/reload = %d; --web.enable-lifecycle should have turned it on", resp.StatusCode)
		}
	}
	logs := d.logs.String()
	started := ""
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "purgewatch started") {
			started = line
		}
	}
	if !strings.Contains(started, "\tinfo\tpurgewatch started\t") {
		t.Errorf("--log.format=console: the start is logged as %q", started)
	}
	if strings.Count(started, "127.0.0.1:") != 2 {
		t.Errorf("--web.listen-address and --listen should both be served: %q", started)
	}
}

func TestStatusPageInHeadlessChromium(t *testing.T) {
	chromium := requireTool(t, "chromium")
	d := startDaemon(t, "--demo")
	d.waitReady(t)
	_, body := d.get(t, "/api/v1/versions")
	var doc struct {
		Versions []scanner.Version `json:"versions"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	doc.Versions = scanner.ByNextDeadline(doc.Versions, time.Now()) // the order a person acts in

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The flags keep Chromium off the network this machine does not have; see the env notes.
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", d.base+"/")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := stdout.String()
	rows := regexp.MustCompile(`<tr class="(\w+)" data-id="([^"]+)"[^>]*>`).FindAllStringSubmatch(dom, -1)
	if len(rows) != len(doc.Versions) {
		t.Fatalf("the page shows %d versions, the snapshot has %d", len(rows), len(doc.Versions))
	}
	for i, r := range rows {
		if r[2] != doc.Versions[i].ID() {
			t.Errorf("row %d is %s, want %s (soonest deadline first)", i, r[2], doc.Versions[i].ID())
		}
		// The demo's version unusable in 12h crossed the 24h threshold, but it is routine (superseded,
		// unused): amber, never red, as its notifications are never critical. The one a VM uses: red.
		if strings.HasSuffix(r[2], "aks-node-ubuntu/versions/2024.10.0") && r[1] != "warning" {
			t.Errorf("the routine version unusable in 12h is coloured %q, want warning", r[1])
		}
		if strings.HasSuffix(r[2], "ubuntu-22.04-base/versions/1.2.0") && r[1] != "critical" {
			t.Errorf("the version a VM still uses, purged in hours, is coloured %q, want critical", r[1])
		}
	}
	if !strings.Contains(dom, "unusable in 1") {
		t.Error("the page does not say which version becomes unusable next")
	}
	if rows[0][1] != "overdue" || !strings.Contains(dom, "overdue 2") {
		t.Errorf("the overdue version is not shown as overdue: class %q", rows[0][1])
	}
	for _, want := range []string{"Galleries with soft delete off", "legacyimages", "Recent scans", "success", "az rest --method patch",
		"purgewatch recover /subscriptions/", "Audit findings", "workload-uses-soft-deleted-version",
		`still used by <code class="id">web-prod-01</code> (vm)`, `<tr class="finding critical">`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestReadyzBeforeTheFirstScan(t *testing.T) {
	// A subscription listing that hangs until shutdown keeps the first scan from finishing.
	path := filepath.Join(t.TempDir(), "config.yaml")
	hang := newHangingServer(t)
	if err := os.WriteFile(path, []byte("azure:\n  auth: none\n  endpoint: "+hang.URL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config", path)
	<-hang.arrived
	for _, path := range []string{"/readyz", "/-/ready"} { // Kubernetes' name, and Prometheus's
		if code, _ := d.get(t, path); code != http.StatusServiceUnavailable {
			t.Errorf("%s = %d before the first scan finished, want 503", path, code)
		}
	}
	for _, path := range []string{"/healthz", "/-/healthy"} {
		if code, _ := d.get(t, path); code != http.StatusOK {
			t.Errorf("%s = %d while scanning", path, code)
		}
	}
	d.stop(t) // shutdown cancels the hanging scan and still exits 0
}

func TestWebConfigBasicAuthGuardsEveryEndpoint(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webFile, cfgFile := filepath.Join(dir, "web.yml"), filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(webFile, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, []byte("server:\n  webConfigFile: "+webFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--demo", "--config", cfgFile)
	for _, path := range []string{"/metrics", "/", "/api/v1/versions", "/readyz"} {
		if code, _ := d.get(t, path); code != http.StatusUnauthorized {
			t.Errorf("%s without credentials = %d, want 401", path, code)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, d.base+"/healthz", nil)
	req.SetBasicAuth("prometheus", "s3cret")
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz with credentials = %d", resp.StatusCode)
	}
}

// TestANewProcessOnTheSameStateFileSendsNothingTwice runs purgewatch twice over the same estate
// and state file: the second process finds every warning in the log and sends none.
func TestANewProcessOnTheSameStateFileSendsNothingTwice(t *testing.T) {
	sim := armsim.New(armsim.DemoEstate(time.Now()), armsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := "azure:\n  auth: none\n  endpoint: " + srv.URL + "\nnotify:\n  stateFile: " + filepath.Join(dir, "state.db") +
		"\n  channels:\n    - {name: stdout, type: log}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	first := startDaemon(t, "--config", cfg)
	first.waitReady(t)
	// The demo's three versions that are not routine (two in use, one its definition's last) are
	// announced deleted; the seven pruned ones are not, but named in the day's digest
	// (notify.routine: digest), a message of its own.
	testtool.Eventually(t, 20*time.Second, "the first process's three deletions and its digest", func() bool {
		return strings.Count(first.stdout.String(), "\n") >= 4
	}, first.stdout.String)
	out := first.stdout.String()
	if d, g, e := strings.Count(out, `"type":"deleted"`), strings.Count(out, `"type":"digest"`), strings.Count(out, `"type":"expiring"`); d != 3 || g != 1 || e != 0 {
		t.Errorf("first process: %d deleted, %d digest and %d expiring events, want the demo's 3, 1 and none:\n%s", d, g, e, out)
	}
	first.stop(t)

	second := startDaemon(t, "--config", cfg)
	second.waitReady(t) // the scan's notifications are queued before readiness
	_, text := second.get(t, "/metrics")
	if !strings.Contains(text, `purgewatch_notifications_pending{channel="stdout"} 0`) {
		t.Errorf("second process queued something:\n%s", grep(text, "purgewatch_notifications"))
	}
	second.stop(t)
	if out := second.stdout.String(); out != "" {
		t.Errorf("second process sent again:\n%s", out)
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTheWholeLoop is the README's story: a warning arrives, `purgewatch recover` is run, and the
// next scan resolves the warning as recovered.
func TestTheWholeLoop(t *testing.T) {
	sim := armsim.New(armsim.DemoEstate(time.Now()), armsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	body := "azure:\n  auth: none\n  endpoint: " + srv.URL + "\nscan:\n  schedule: \"@every 1s\"\nnotify:\n  stateFile: " +
		filepath.Join(dir, "state.db") + "\n  channels:\n    - {name: stdout, type: log}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// The version a VM still uses: announced deleted at once.
	id := "/subscriptions/" + armsim.DemoProduction + "/resourceGroups/rg-images-prod/providers/Microsoft.Compute/galleries/prodimages/images/ubuntu-22.04-base/versions/1.2.0"
	d := startDaemon(t, "--config", cfg)
	waitFor := func(what string, cond func(string) bool) {
		t.Helper()
		testtool.Eventually(t, 30*time.Second, what, func() bool { return cond(d.stdout.String()) }, d.stdout.String)
	}
	announced := func(kind, extra string) func(string) bool {
		return func(out string) bool {
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, `"type":"`+kind+`"`) && strings.Contains(line, `"id":"`+id+`"`) && strings.Contains(line, extra) {
					return true
				}
			}
			return false
		}
	}
	waitFor("warning", announced("deleted", `"reasons":["in-use"]`))

	code, out, stderr := runCmd(t, "recover", id, "--config", cfg, "--yes")
	if code != exitOK || !strings.Contains(out, "recovered") {
		t.Fatalf("recover: exit %d\n%s%s", code, out, stderr)
	}
	waitFor("resolution", announced("resolved", `"reason":"recovered"`))
	if n := strings.Count(d.stdout.String(), `"type":"resolved"`); n != 1 {
		t.Errorf("%d resolved events, want exactly one", n)
	}
}

// SIGHUP and POST /-/reload at once, many times over, while the file changes: under -race
// nothing is reported, every reload either applies or is refused whole, and the last one wins.
func TestAReloadStormBySignalAndHTTP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	variant := func(i int) string {
		return fmt.Sprintf("server:\n  enableLifecycle: true\nmetrics:\n  relative: %v\nnotify:\n  stateFile: %s\n  channels:\n    - {name: ch%d, type: log}\n",
			i%2 == 0, filepath.Join(dir, "s.db"), i%3)
	}
	write := func(i int) { // whole files only, as an editor or a ConfigMap update writes them
		tmp := filepath.Join(dir, fmt.Sprintf("tmp-%d", i))
		if err := os.WriteFile(tmp, []byte(variant(i)), 0o600); err != nil {
			t.Error(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Error(err)
		}
	}
	write(0)
	d := startDaemon(t, "--demo", "--config", path)
	d.waitReady(t)
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			write(i)
			if i%2 == 0 {
				d.reload <- nil
				return
			}
			resp, err := d.client.Post(d.base+"/-/reload", "", nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("POST /-/reload = %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	write(1) // relative: false, channel ch1
	resp, err := d.client.Post(d.base+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("last reload: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, text := d.get(t, "/metrics"); strings.Contains(text, "seconds_until_purge{") || !strings.Contains(text, `purgewatch_notifications_pending{channel="ch1"}`) {
		t.Error("the last reload did not win")
	}
	if !strings.Contains(d.logs.String(), "channelsAdded") {
		t.Error("no reload said which channels it added")
	}
}

// An incremental daemon (Resource Graph discovery, scan.incremental) announces a version deleted
// between two of its scans, though the second lists only the bins that may have changed.
func TestAnIncrementalDaemonAnnouncesAVersionDeletedBetweenScans(t *testing.T) {
	images := make([]armsim.Image, 200)
	for i := range images {
		images[i] = armsim.Image{Name: fmt.Sprintf("img%03d", i), Versions: []string{"1.0.0", "2.0.0"}}
	}
	sub := "33333333-3333-3333-3333-333333333333"
	sim := armsim.New(armsim.Estate{Subscriptions: []armsim.Subscription{{ID: sub, Galleries: []armsim.Gallery{{
		Name: "prod", ResourceGroup: "rg", Location: "West Europe", Images: images,
		SoftDelete: &armsim.SoftDeletePolicy{Enabled: true, RetentionDays: new(2)}}}}}}, armsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	// The audit is on, as by default: it reads the live versions from Resource Graph's rows
	// rather than listing each definition's (which held each scan for seconds on the budget).
	body := "azure:\n  auth: none\n  endpoint: " + srv.URL + "\n  discovery: resourcegraph\nscan:\n  schedule: \"@every 1s\"\n  incremental: true\n" +
		"notify:\n  stateFile: " + filepath.Join(dir, "state.db") + "\n  channels:\n    - {name: stdout, type: log}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config.file", cfg)
	d.waitReady(t)
	if out := d.stdout.String(); out != "" {
		t.Fatalf("announced before anything was deleted:\n%s", out)
	}

	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/subscriptions/"+sub+
		"/resourceGroups/rg/providers/Microsoft.Compute/galleries/prod/images/img042/versions/2.0.0?api-version=2025-03-03", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %v %v", resp, err)
	}
	resp.Body.Close()
	testtool.Eventually(t, 20*time.Second, "the deleted version announced", func() bool {
		return strings.Contains(d.stdout.String(), `img042`)
	}, d.logs.String)
	// Its definition's newest: not routine, so announced as deleted (not left to the digest).
	if out := d.stdout.String(); !strings.Contains(out, `"type":"deleted"`) || !strings.Contains(out, `"reasons":["newest"]`) {
		t.Errorf("the deletion was not announced as one that looks wrong:\n%s", out)
	}
	if !strings.Contains(d.logs.String(), `"binsCarried":199`) {
		t.Errorf("the scan that found it was not incremental:\n%s", grep(d.logs.String(), `{"level":"info"`))
	}
}
