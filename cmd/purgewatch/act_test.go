package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
)

const prodRG = "/subscriptions/" + armsim.DemoProduction + "/resourceGroups/rg-images-prod/providers/Microsoft.Compute/galleries/prodimages/images/"

// fakeTerminal answers the confirmation question, as a person at a terminal would.
func fakeTerminal(t *testing.T, terminal bool, answer string) {
	t.Helper()
	oldIn, oldTerm := stdin, stdinIsTerminal
	stdin, stdinIsTerminal = strings.NewReader(answer), func() bool { return terminal }
	t.Cleanup(func() { stdin, stdinIsTerminal = oldIn, oldTerm })
}

func demoSim(t *testing.T, opts armsim.Options, faults ...armsim.Fault) (*armsim.Server, string) {
	t.Helper()
	sim := armsim.New(armsim.DemoEstate(time.Now()), opts)
	for _, f := range faults {
		sim.Inject(f)
	}
	return sim, simConfigFor(t, sim)
}

func TestRecoverCommand(t *testing.T) {
	id := prodRG + "windows-2022-iis/versions/2024.11.1"
	sim, cfg := demoSim(t, armsim.Options{})

	code, out, _ := runCmd(t, "recover", id, "--config.file", cfg, "--dry-run")
	if code != exitOK || !strings.Contains(out, "is in the recycle bin") || !strings.Contains(out, "PATCH http") || !strings.Contains(out, `"location":"westeurope"`) {
		t.Errorf("--dry-run: exit %d\n%s", code, out)
	}
	fakeTerminal(t, false, "")
	code, _, stderr := runCmd(t, "recover", id, "--config.file", cfg)
	if code != exitFailed || !strings.Contains(stderr, "not a terminal") {
		t.Errorf("no terminal, no --yes: exit %d %s", code, stderr)
	}
	fakeTerminal(t, true, "n\n")
	if code, _, stderr := runCmd(t, "recover", id, "--config.file", cfg); code != exitFailed || !strings.Contains(stderr, "not confirmed") {
		t.Errorf("answered no: exit %d %s", code, stderr)
	}
	if n := len(sim.Writes()); n != 0 {
		t.Fatalf("%d writes before anything was confirmed", n)
	}
	fakeTerminal(t, true, "y\n")
	code, out, stderr = runCmd(t, "recover", id, "--config.file", cfg)
	if code != exitOK || !strings.Contains(out, "recovered "+id+" with PATCH") {
		t.Errorf("answered yes: exit %d\n%s%s", code, out, stderr)
	}
	code, _, stderr = runCmd(t, "recover", id, "--config.file", cfg, "--yes")
	if code != exitFailed || !strings.Contains(stderr, "not in the recycle bin: the live version exists") {
		t.Errorf("recovered twice: exit %d %s", code, stderr)
	}
	code, _, stderr = runCmd(t, "recover", "--subscription", armsim.DemoProduction, "--resource-group", "rg-images-prod",
		"--gallery", "prodimages", "--image", "windows-2022-iis", "--version", "1.0.0", "--config.file", cfg, "--yes")
	if code != exitFailed || !strings.Contains(stderr, "has been purged") {
		t.Errorf("never there: exit %d %s", code, stderr)
	}
}

func TestRecoverCommandFallsBackAndNamesPermissions(t *testing.T) {
	id := prodRG + "ubuntu-22.04-base/versions/1.3.0"
	_, cfg := demoSim(t, armsim.Options{RestoreMethods: []string{http.MethodPut}})
	code, out, stderr := runCmd(t, "recover", id, "--config.file", cfg, "--yes")
	if code != exitOK || !strings.Contains(out, "with PUT (the PATCH of the REST specification was refused)") {
		t.Errorf("fallback: exit %d\n%s%s", code, out, stderr)
	}
	_, cfg = demoSim(t, armsim.Options{}, armsim.Fault{Scope: id, Method: http.MethodPatch, Status: 403, Code: "AuthorizationFailed",
		Message: "The client does not have authorization to perform action 'Microsoft.Compute/galleries/images/versions/write' over scope '" + id + "'"})
	code, _, stderr = runCmd(t, "recover", id, "--config.file", cfg, "--yes")
	if code != exitFailed || !strings.Contains(stderr, "not allowed to Microsoft.Compute/galleries/images/versions/write") {
		t.Errorf("403: exit %d %s", code, stderr)
	}
}

func TestPurgeCommandRefusesAVersionStillInUse(t *testing.T) {
	used := prodRG + "ubuntu-22.04-base/versions/1.2.0" // web-prod-01 is created from it
	free := prodRG + "windows-2022-iis/versions/2024.11.1"
	sim, cfg := demoSim(t, armsim.Options{})
	code, _, stderr := runCmd(t, "purge", used, "--config.file", cfg, "--yes")
	if code != exitFailed || !strings.Contains(stderr, "refusing: still used by") || !strings.Contains(stderr, "virtualMachines/web-prod-01") {
		t.Errorf("in use: exit %d %s", code, stderr)
	}
	if code, out, _ := runCmd(t, "purge", free, "--config.file", cfg, "--dry-run"); code != exitOK || !strings.Contains(out, "DELETE http") {
		t.Errorf("dry run: exit %d %s", code, out)
	}
	if n := len(sim.Writes()); n != 0 {
		t.Fatalf("%d writes from a refusal and a dry run", n)
	}
	if code, out, stderr := runCmd(t, "purge", free, "--config.file", cfg, "--yes"); code != exitOK || !strings.Contains(out, "purged "+free) {
		t.Errorf("free: exit %d %s %s", code, out, stderr)
	}
	if code, out, stderr := runCmd(t, "purge", used, "--config.file", cfg, "--yes", "--force"); code != exitOK || !strings.Contains(out, "purged") {
		t.Errorf("--force: exit %d %s %s", code, out, stderr)
	}
	if w := sim.Writes(); len(w) != 2 || w[0].Method != "DELETE" || !strings.Contains(w[0].Path, "softDeletedArtifactTypes") {
		t.Errorf("writes = %+v", w)
	}
}

func TestAuditCommandFailOn(t *testing.T) {
	_, cfg := demoSim(t, armsim.Options{})
	code, out, _ := runCmd(t, "audit", "--config.file", cfg, "-o", "json")
	var doc struct {
		Findings []struct{ Severity, Check, ID string }
		Errors   []any
	}
	if err := json.Unmarshal([]byte(out), &doc); code != exitOK || err != nil || doc.Errors == nil {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	crit := 0
	for _, f := range doc.Findings {
		if f.Severity == "critical" {
			crit++
		}
	}
	if crit != 2 {
		t.Errorf("critical findings = %d, want web-prod-01 and build-agents", crit)
	}
	for _, tc := range []struct {
		failOn string
		want   int
	}{{"critical", exitDeadline}, {"warning", exitDeadline}} {
		if code, _, _ := runCmd(t, "audit", "--config.file", cfg, "--fail-on", tc.failOn); code != tc.want {
			t.Errorf("--fail-on %s: exit %d, want %d", tc.failOn, code, tc.want)
		}
	}
	// An estate with nothing wrong passes --fail-on warning.
	clean := armsim.New(armsim.Estate{Subscriptions: []armsim.Subscription{{ID: armsim.DemoSandbox, Galleries: []armsim.Gallery{
		{Name: "g", ResourceGroup: "rg", Location: "West Europe", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true},
			Images: []armsim.Image{{Name: "i", Versions: []string{"1.0.0"}}}}}}}}, armsim.Options{})
	if code, _, stderr := runCmd(t, "audit", "--config.file", simConfigFor(t, clean), "--fail-on", "warning"); code != exitOK {
		t.Errorf("clean estate: exit %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "audit", "--config.file", cfg, "--fail-on", "info"); code != exitFailed {
		t.Errorf("--fail-on info is not a severity one fails on: exit %d", code)
	}
}

func TestRecoverAndPurgeAreBoundedByWaitAndSayWhatHoldsThemUp(t *testing.T) {
	id := prodRG + "windows-2022-iis/versions/2024.11.1"
	scope := "/subscriptions/" + armsim.DemoProduction
	for _, c := range []struct {
		name  string
		fault armsim.Fault
		says  []string
	}{
		{"stalled", armsim.Fault{Scope: scope, Stall: true},
			[]string{"no answer from ARM to", "gave up after --wait 2.5s, waiting for ARM to answer"}},
		{"throttled", armsim.Fault{Scope: scope, Status: http.StatusTooManyRequests, Code: "TooManyRequests", RetryAfter: 700 * time.Millisecond},
			[]string{"ARM throttled", "waiting as it asks, within --wait 2.5s", "429"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim, _ := demoSim(t, armsim.Options{}, c.fault)
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			body := "azure:\n  auth: none\n  endpoint: " + srv.URL + "\n  requestTimeout: 1s\n"
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"recover", "purge"} {
				start := time.Now()
				code, _, stderr := runCmd(t, cmd, id, "--config.file", cfg, "--yes", "--wait", "2500ms")
				if took := time.Since(start); took > 10*time.Second {
					t.Errorf("%s took %s with --wait 2.5s", cmd, took)
				}
				if code != exitFailed {
					t.Errorf("%s: exit %d", cmd, code)
				}
				for _, want := range c.says {
					if !strings.Contains(stderr, want) {
						t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, stderr)
					}
				}
			}
		})
	}
}
