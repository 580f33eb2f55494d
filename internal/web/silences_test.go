package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/scanner"
)

// TestSilencesChangeOnlyBehindTheLifecycleGuard: GET lists; POST and DELETE answer 403 unless
// --web.enable-lifecycle, as /-/reload does; a silence without a comment is refused, naming it;
// one posted is listed active, and DELETE expires it.
func TestSilencesChangeOnlyBehindTheLifecycleGuard(t *testing.T) {
	file, err := state.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	store := silence.NewStore(file)
	do := func(base, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	good := `{"matchers": [{"name": "gallery", "op": "=", "value": "ci"}], "duration": "7d", "createdBy": "alice", "comment": "rebuilding"}`
	off := serveWith(t, Options{Daemon: fixedDaemon{&status.State{}}, Silences: store})
	if code, body := do(off.URL, http.MethodPost, "/api/v1/silences", good); code != http.StatusForbidden || strings.Contains(body, "SIGHUP") ||
		!strings.Contains(body, "--web.enable-lifecycle") {
		t.Errorf("lifecycle off: POST = %d %q, want 403 saying how, not SIGHUP (which changes no silence)", code, body)
	}
	on := serveWith(t, Options{Daemon: fixedDaemon{&status.State{}}, Silences: store, EnableLifecycle: true})
	if code, body := do(on.URL, http.MethodPost, "/api/v1/silences", strings.Replace(good, `"rebuilding"`, `""`, 1)); code != http.StatusBadRequest || !strings.Contains(body, "comment") {
		t.Errorf("no comment: %d %s", code, body)
	}
	if code, body := do(on.URL, http.MethodPost, "/api/v1/silences", strings.Replace(good, `"gallery"`, `"galery"`, 1)); code != http.StatusBadRequest || !strings.Contains(body, "not a label name") {
		t.Errorf("a bad label name: %d %s", code, body)
	}
	amtool := `{"matchers": [{"name": "image", "value": "ubuntu-.*", "isRegex": true, "isEqual": true}], "startsAt": "2026-11-27T12:00:00Z",
		"endsAt": "2026-11-28T12:00:00Z", "createdBy": "bob", "comment": "as amtool posts it"}`
	if code, body := do(on.URL, http.MethodPost, "/api/v1/silences", amtool); code != http.StatusOK {
		t.Errorf("Alertmanager's own shape: %d %s", code, body)
	}
	code, body := do(on.URL, http.MethodPost, "/api/v1/silences", good)
	var made struct{ SilenceID string }
	if json.Unmarshal([]byte(body), &made); code != http.StatusOK || made.SilenceID == "" {
		t.Fatalf("POST: %d %s", code, body)
	}
	_, body = do(off.URL, http.MethodGet, "/api/v1/silences", "")
	var list []silenceView
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 2 || list[1].Status.State != "active" || list[1].EndsAt.Sub(list[1].StartsAt).Hours() != 168 ||
		list[0].Matchers[0].String() != `image=~"ubuntu-.*"` {
		t.Fatalf("GET: %v %s", err, body)
	}
	if code, _ := do(off.URL, http.MethodDelete, "/api/v1/silences/"+made.SilenceID, ""); code != http.StatusForbidden {
		t.Errorf("lifecycle off: DELETE = %d", code)
	}
	if code, body := do(on.URL, http.MethodDelete, "/api/v1/silences/nope", ""); code != http.StatusNotFound {
		t.Errorf("DELETE of an unknown id: %d %s", code, body)
	}
	if code, body := do(on.URL, http.MethodDelete, "/api/v1/silences/"+made.SilenceID, ""); code != http.StatusOK || !strings.Contains(body, `"state": "expired"`) {
		t.Errorf("DELETE: %d %s", code, body)
	}
}

// TestThePageSaysWhatToDoFirst: a version still in use, or not routine and critical, is listed
// under "Act first" above the table, with a legend for the colours; the page reloads only when
// asked (?refresh=), since a reload closes the recovery command a reader opened.
func TestThePageSaysWhatToDoFirst(t *testing.T) {
	mk := func(name string, purge time.Duration, triage []string) scanner.Version {
		return scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: "i"},
			Version: name, ConsumptionEndsAt: now.Add(purge), PurgeAt: now.Add(purge), Triage: triage}
	}
	st := &status.State{Ready: true, History: []status.ScanRecord{{Started: now, Result: status.ResultSuccess}}, Snapshot: &scanner.Snapshot{ScannedAt: now,
		Versions: []scanner.Version{mk("1.0.0", 5*time.Hour, []string{}), mk("2.0.0", 5*time.Hour, []string{"newest"}), mk("3.0.0", 100*time.Hour, []string{"newest"})}}}
	srv := serve(t, st)
	_, body := get(t, srv.URL+"/")
	act, _, _ := strings.Cut(body[strings.Index(body, `<section id="act">`)+1:], "</section>")
	if !strings.Contains(act, `<strong class="id">2.0.0</strong>`) || strings.Contains(act, "1.0.0") || strings.Contains(act, "3.0.0") {
		t.Errorf("act first lists other than the version not routine within a day:\n%s", act)
	}
	if !strings.Contains(body, `id="legend"`) || strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("no legend, or a refresh nobody asked for")
	}
	if _, body = get(t, srv.URL+"/?refresh=120"); !strings.Contains(body, `<meta http-equiv="refresh" content="120">`) {
		t.Error("?refresh=120 does not reload every 120 s")
	}
	if code, body := get(t, srv.URL+"/?refresh=2"); code != http.StatusBadRequest || !strings.Contains(body, "at least 10") {
		t.Errorf("?refresh=2: %d %s", code, body)
	}
}

// TestThePageSaysWhatAVersionKeepsBilled: what a version seen live retains, and with
// metrics.storagePricePerGBMonth what that costs a month.
func TestThePageSaysWhatAVersionKeepsBilled(t *testing.T) {
	v := scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: "i"},
		Version: "1.0.0", ConsumptionEndsAt: now.Add(48 * time.Hour), PurgeAt: now.Add(48 * time.Hour), RetainedBytes: 260 << 30}
	st := &status.State{Ready: true, Snapshot: &scanner.Snapshot{ScannedAt: now, Versions: []scanner.Version{v}}}
	srv := serveWith(t, Options{Daemon: fixedDaemon{st}, StoragePrice: func() float64 { return 0.05 }})
	if _, body := get(t, srv.URL+"/"); !strings.Contains(body, "keeps 260 GiB billed until the purge (≈ 13.00 a month)") {
		t.Error("the page does not say what the version keeps billed, and its cost")
	}
}
