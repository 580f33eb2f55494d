package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestScanDemoJSONHasTheDocumentedShape(t *testing.T) {
	code, out, stderr := runCmd(t, "scan", "--demo", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(doc); !slices.Equal(got, []string{"errors", "galleries", "scannedAt", "versions"}) {
		t.Errorf("top-level keys = %v", got)
	}
	var versions []map[string]any
	_ = json.Unmarshal(doc["versions"], &versions)
	if len(versions) < 5 {
		t.Fatalf("only %d versions in the demo", len(versions))
	}
	wantKeys := []string{"consumptionEndsAt", "gallery", "id", "image", "location", "purgeAt", "purgeAtSource",
		"resourceGroup", "secondsUntilConsumptionEnd", "secondsUntilPurge", "softDeletedAt", "subscriptionId", "version"}
	var last time.Time
	deleted := map[string]any{}
	for _, v := range versions {
		who, known := v["deletedBy"] // one or the other: who deleted it, or why that is not known
		if !known {
			who = v["deletedByUnknown"]
		}
		deleted[v["version"].(string)] = who
		delete(v, "deletedBy")
		delete(v, "deletedByUnknown")
		if got := sortedKeys(v); !slices.Equal(got, wantKeys) {
			t.Fatalf("version keys = %v", got)
		}
		purge, err := time.Parse(time.RFC3339, v["purgeAt"].(string))
		if err != nil || !strings.HasSuffix(v["purgeAt"].(string), "Z") {
			t.Errorf("purgeAt %v is not RFC 3339 UTC", v["purgeAt"])
		}
		if purge.Before(last) {
			t.Errorf("versions not sorted by purgeAt")
		}
		last = purge
		if loc := v["location"].(string); strings.ContainsAny(loc, " ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("location %q is not ARM's short form", loc)
		}
		if !strings.Contains(v["id"].(string), "/images/") || strings.Contains(v["id"].(string), "softDeleted") {
			t.Errorf("id %v is not the version's own ARM id", v["id"])
		}
	}
	alice, _ := deleted["1.2.0"].(map[string]any)
	for k, want := range map[string]string{"caller": "alice@contoso.com", "principalType": "User", "principalName": "alice@contoso.com",
		"appId": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "objectId": "a1c3e5f7-9b2d-4f6a-8c0e-2d4f6a8c0e11", "clientIp": "203.0.113.7"} {
		if alice[k] != want {
			t.Errorf("1.2.0 deletedBy.%s = %v, want %s", k, alice[k], want)
		}
	}
	if alice["at"] == nil || alice["correlationId"] == nil {
		t.Errorf("1.2.0 deletedBy has no time or correlation id: %v", alice)
	}
	if got := deleted["2024.09.0"]; got != "the Activity Log holds no deletion of it" {
		t.Errorf("2024.09.0 deletedByUnknown = %v", got)
	}
	var galleries []map[string]any
	_ = json.Unmarshal(doc["galleries"], &galleries)
	if got := sortedKeys(galleries[0]); !slices.Equal(got, []string{"graceDays", "id", "location", "name",
		"resourceGroup", "retentionDays", "softDeleteEnabled", "subscriptionId"}) {
		t.Errorf("gallery keys = %v", got)
	}
	if !strings.Contains(stderr, "scanned 3 subscriptions") {
		t.Errorf("summary = %q", stderr)
	}
}

func TestScanDemoTableAndFailWithin(t *testing.T) {
	code, out, stderr := runCmd(t, "scan", "--demo", "--fail-within", "24h")
	if code != exitDeadline {
		t.Errorf("--fail-within 24h: exit %d, want %d", code, exitDeadline)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "NEXT DEADLINE") || !strings.HasPrefix(lines[1], "purge overdue ") {
		t.Errorf("table does not start with the overdue version:\n%s", out)
	}
	for _, want := range []string{"ARM requests (0 throttled)", "0 failed scopes",
		"--fail-within 1d: ", "/images/ubuntu-22.04-base/versions/1.2.0: purged in 2h", "/versions/2024.10.1: purge overdue"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, stderr)
		}
	}
	if strings.Contains(stderr, "/versions/1.3.1:") {
		t.Errorf("--fail-within 24h names a version purged in five days:\n%s", stderr)
	}
	if code, _, _ := runCmd(t, "scan", "--demo", "--fail-within", "1m"); code != exitDeadline {
		t.Errorf("overdue versions match any --fail-within: exit %d", code)
	}
	// Durations as Prometheus users write them; a bad one names itself and what is meant.
	for _, d := range []string{"3d", "1w", "1d12h"} {
		if code, _, stderr := runCmd(t, "scan", "--demo", "--fail-within", d); code != exitDeadline {
			t.Errorf("--fail-within %s: exit %d: %s", d, code, stderr)
		}
	}
	if code, _, stderr := runCmd(t, "scan", "--demo", "--fail-within", "3 days"); code != exitFailed ||
		!strings.Contains(stderr, `"3 days" is not a duration such as 90m, 72h, 3d or 1w`) {
		t.Errorf("--fail-within '3 days': exit %d: %s", code, stderr)
	}
	// The demo's aks-node-ubuntu/2024.10.0 becomes unusable in 12h, days before its purge: it is
	// listed by that deadline, not last.
	i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "aks-node-ubuntu/2024.10.0") })
	j := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "ubuntu-22.04-base/1.3.0") }) // purged in 20h
	if i < 0 || !strings.HasPrefix(lines[i], "unusable in ") || i > j {
		t.Errorf("the version unusable in 12h is at line %d:\n%s", i, out)
	}
}

// simConfig writes a config pointing at a simulator serving estate, with faults.
func simConfig(t *testing.T, estate armsim.Estate, faults ...armsim.Fault) string {
	t.Helper()
	sim := armsim.New(estate, armsim.Options{})
	for _, f := range faults {
		sim.Inject(f)
	}
	return simConfigFor(t, sim)
}

// simConfigFor serves sim over HTTP and writes a config pointing at it.
func simConfigFor(t *testing.T, sim *armsim.Server) string {
	t.Helper()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "config.yaml")
	body := fmt.Sprintf("azure:\n  auth: none\n  endpoint: %s\n", srv.URL)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScanExitCodes(t *testing.T) {
	estate := armsim.DemoEstate(time.Now())
	forbidden := armsim.Fault{Scope: "/subscriptions/" + armsim.DemoPlatform, Status: 403, Code: "AuthorizationFailed", Message: "no access"}

	cfg := simConfig(t, estate, forbidden)
	code, out, stderr := runCmd(t, "scan", "--config", cfg)
	if code != exitPartial {
		t.Errorf("one subscription forbidden: exit %d, want %d", code, exitPartial)
	}
	if !strings.Contains(stderr, "failed: /subscriptions/"+armsim.DemoPlatform+": AuthorizationFailed: no access") {
		t.Errorf("stderr does not name the failed scope: %s", stderr)
	}
	if !strings.Contains(out, "prodimages") {
		t.Error("the other subscriptions' versions are not printed")
	}
	if code, _, _ := runCmd(t, "scan", "--config", cfg, "--fail-within", "24h"); code != exitDeadline {
		t.Errorf("--fail-within takes precedence over partial: exit %d", code)
	}

	var all []armsim.Fault
	for _, s := range estate.Subscriptions {
		all = append(all, armsim.Fault{Scope: "/subscriptions/" + s.ID, Status: 403, Code: "AuthorizationFailed", Message: "no"})
	}
	if code, _, _ := runCmd(t, "scan", "--config", simConfig(t, estate, all...)); code != exitFailed {
		t.Errorf("every subscription forbidden: exit %d, want %d", code, exitFailed)
	}
	code, out, stderr = runCmd(t, "scan", "--config", simConfig(t, estate, armsim.Fault{Scope: "/subscriptions", Status: 401,
		Code: "InvalidAuthenticationToken", Message: "The access token is invalid."}), "-o", "json")
	if code != exitFailed {
		t.Errorf("no subscription listable: exit %d, want %d", code, exitFailed)
	}
	for _, want := range []string{"failed: /: InvalidAuthenticationToken: The access token is invalid.", "what to do: Check purgewatch's Azure credential",
		"this is not an empty estate"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(out, `"scope": "/"`) {
		t.Errorf("the JSON document's errors lack the root scope:\n%s", out)
	}

	// One subscription, one failing image definition: something was read, so partial.
	single := armsim.Estate{Subscriptions: estate.Subscriptions[:1]}
	g := single.Subscriptions[0].Galleries[0]
	imageScope := "/subscriptions/" + single.Subscriptions[0].ID + "/resourceGroups/" + g.ResourceGroup +
		"/providers/Microsoft.Compute/galleries/" + g.Name + "/images/" + g.Images[0].Name
	if code, _, stderr := runCmd(t, "scan", "--config", simConfig(t, single, armsim.Fault{Scope: imageScope, Status: 500, Code: "InternalError"})); code != exitPartial {
		t.Errorf("one image definition failing in a single subscription: exit %d, want %d\n%s", code, exitPartial, stderr)
	}
	if code, _, _ := runCmd(t, "scan", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != exitFailed {
		t.Errorf("missing config: exit %d", code)
	}
}

func TestConfigCheck(t *testing.T) {
	if code, out, _ := runCmd(t, "config", "check", "--config", filepath.Join("..", "..", "config.yaml")); code != exitOK || !strings.Contains(out, "OK") {
		t.Errorf("sample: exit %d %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("azure:\n  auth: magic\n"), 0o600)
	code, _, stderr := runCmd(t, "config", "check", "--config", bad)
	if code != exitFailed || !strings.Contains(stderr, "bad.yaml:2: azure.auth:") {
		t.Errorf("bad: exit %d, %s", code, stderr)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestScanJSONSurvivesATimeJSONCannotCarry: one recycle-bin entry deleted in the year 9999 is
// purged after the year 9999; the rest of the estate is still printed, and the entry is a scoped
// error.
func TestScanJSONSurvivesATimeJSONCannotCarry(t *testing.T) {
	estate := armsim.DemoEstate(time.Now())
	img := &estate.Subscriptions[0].Galleries[0].Images[0]
	img.SoftDeleted = append(img.SoftDeleted, armsim.SoftDeleted{Version: "9.9.9", DeletedAt: time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC)})
	code, out, stderr := runCmd(t, "scan", "--config", simConfig(t, estate), "-o", "json")
	if code != exitPartial {
		t.Errorf("exit %d, want %d (partial)\n%s", code, exitPartial, stderr)
	}
	var doc struct {
		Versions []struct{ Version string }
		Errors   []struct{ Scope, Code, Message string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%q", err, out)
	}
	if len(doc.Versions) < 5 || len(doc.Errors) != 1 || !strings.Contains(doc.Errors[0].Message, "9.9.9") {
		t.Errorf("%d versions, errors %+v: want the estate, and one error naming 9.9.9", len(doc.Versions), doc.Errors)
	}
}

// A hostile ARM's message cannot forge the output of scan or audit: its escape sequences and
// newlines are written escaped, so no "failed: none" line and no coloured ALL CLEAR appear.
func TestScanAndAuditEscapeControlCharacters(t *testing.T) {
	estate := armsim.DemoEstate(time.Now())
	forged := "no access\n  failed: none\x1b[2J\x1b[32mALL CLEAR\x1b[0m\r"
	cfg := simConfig(t, estate, armsim.Fault{Scope: "/subscriptions/" + armsim.DemoPlatform, Status: 403, Code: "AuthorizationFailed", Message: forged})
	for _, cmd := range []string{"scan", "audit"} {
		_, out, stderr := runCmd(t, cmd, "--config", cfg)
		all := out + stderr
		if strings.ContainsAny(all, "\x1b\r") || strings.Contains(all, "\n  failed: none") {
			t.Errorf("%s wrote a control character or a forged line:\n%q", cmd, all)
		}
		if !strings.Contains(all, `no access\x0a  failed: none\x1b[2J`) {
			t.Errorf("%s does not show the message escaped:\n%s", cmd, all)
		}
	}
}
