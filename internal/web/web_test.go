package web

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/notify"
	"github.com/purgewatch/purgewatch/scanner"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type fixedDaemon struct{ st *status.State }

func (f fixedDaemon) State() *status.State { return f.st }

// serveWith serves o, its unset parts filled as run fills them, until the test ends.
func serveWith(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = func() time.Time { return now }
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.ARMEndpoint == nil {
		o.ARMEndpoint = func() string { return "https://management.azure.com" }
	}
	if o.Thresholds == nil {
		o.Thresholds = func() []time.Duration { return []time.Duration{72 * time.Hour, 24 * time.Hour} }
	}
	srv := httptest.NewServer(Handler(o))
	t.Cleanup(srv.Close)
	return srv
}

// serve serves st.
func serve(t *testing.T, st *status.State) *httptest.Server {
	t.Helper()
	return serveWith(t, Options{Daemon: fixedDaemon{st}})
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func page(t *testing.T, st *status.State) string {
	t.Helper()
	_, body := get(t, serve(t, st).URL+"/")
	return body
}

func TestABlindScanIsTheFirstThingThePageSays(t *testing.T) {
	v := scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: "i"},
		Version: "1.0.0", ConsumptionEndsAt: now.Add(48 * time.Hour), PurgeAt: now.Add(48 * time.Hour)}
	blind := &status.State{Ready: true, Started: now.Add(-3 * time.Hour), LastComplete: now.Add(-2 * time.Hour),
		Snapshot: &scanner.Snapshot{Versions: []scanner.Version{v}},
		History: []status.ScanRecord{{Started: now, Result: status.ResultFailed, Errors: []scanner.ScopeError{
			{Scope: "/", Code: "InvalidAuthenticationToken", Message: "The access token is invalid.", Reason: scanner.ReasonForbidden}}}}}
	body := page(t, blind)
	banner, versions := strings.Index(body, `id="scan-health"`), strings.Index(body, `id="versions"`)
	if banner < 0 || banner > versions {
		t.Fatalf("the banner must come before the versions (banner at %d, versions at %d)", banner, versions)
	}
	section := body[banner:versions]
	for _, want := range []string{"cannot see the estate", "InvalidAuthenticationToken", "The access token is invalid.",
		"Check purgewatch&#39;s Azure credential", "last complete scan was 2h 0m ago", "not an all-clear"} {
		if !strings.Contains(section, want) {
			t.Errorf("banner lacks %q:\n%s", want, section)
		}
	}

	partial := *blind
	partial.History = []status.ScanRecord{{Started: now, Result: status.ResultPartial, Errors: []scanner.ScopeError{
		{Scope: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i", Code: "BadResponse", Reason: scanner.ReasonBadResponse}}}}
	if body := page(t, &partial); !strings.Contains(body, "could not read everything") || strings.Contains(body, "cannot see the estate") {
		t.Error("a partial scan gets the partial banner")
	}

	healthy := *blind
	healthy.History = []status.ScanRecord{{Started: now, Result: status.ResultSuccess}}
	if body := page(t, &healthy); strings.Contains(body, `id="scan-health"`) {
		t.Error("a complete scan shows no banner")
	}
}

func TestLifecycleIsOffUnlessEnabledAndRefusesCrossSiteRequests(t *testing.T) {
	post := func(srv *httptest.Server, contentType string, header map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/-/reload", strings.NewReader("x"))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var reloads int
	d := fixedDaemon{&status.State{}}
	count := func() error { reloads++; return nil }
	off := serveWith(t, Options{Daemon: d, Reload: count})
	if code := post(off, "", nil); code != http.StatusForbidden || reloads != 0 {
		t.Errorf("lifecycle off: POST /-/reload = %d, %d reloads; want 403 and none", code, reloads)
	}

	on := serveWith(t, Options{Daemon: d, Reload: count, EnableLifecycle: true})
	for _, c := range []struct {
		name        string
		contentType string
		header      map[string]string
		want        int
	}{
		{"curl", "", nil, http.StatusOK},
		{"json from the same origin", "application/json", map[string]string{"Origin": on.URL}, http.StatusOK},
		{"a form", "application/x-www-form-urlencoded", nil, http.StatusForbidden},
		{"a multipart form", "multipart/form-data; boundary=x", nil, http.StatusForbidden},
		{"text/plain", "text/plain", nil, http.StatusForbidden},
		{"a foreign Origin", "application/json", map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"a cross-site fetch", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	} {
		before := reloads
		if code := post(on, c.contentType, c.header); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
		if refused := reloads == before; refused != (c.want != http.StatusOK) {
			t.Errorf("%s: reloaded = %v", c.name, !refused)
		}
	}
}

func TestEveryResponseCarriesTheSecurityHeaders(t *testing.T) {
	srv := serve(t, &status.State{Ready: true})
	for _, path := range []string{"/", "/metrics", "/healthz", "/readyz", "/api/v1/versions", "/api/v1/outbox", "/nope"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: Content-Security-Policy %q must allow no script", path, csp)
		}
	}
	s := NewServer(http.NotFoundHandler())
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout < time.Minute || s.IdleTimeout == 0 {
		t.Errorf("server timeouts: %+v", s)
	}
}

type fakeNotifications struct {
	letters   []notify.Letter
	sends     []state.Sends
	recovered string
}

func (f fakeNotifications) Sends() ([]state.Sends, error)           { return f.sends, nil }
func (f fakeNotifications) Letters(string) ([]notify.Letter, error) { return f.letters, nil }
func (f fakeNotifications) Retry(string) (int, error)               { return 0, nil }
func (f fakeNotifications) Recovered() string                       { return f.recovered }

func TestThePageShowsDeadLettersAndARecoveredStateFile(t *testing.T) {
	n := fakeNotifications{recovered: "/var/lib/purgewatch/state.db.corrupt-20261127T120000Z", letters: []notify.Letter{
		{Channel: "chat", State: notify.LetterDead, DeadSince: now.Add(-time.Hour), Status: 404, Answer: "no_service", Events: 2, Versions: []string{"g/i/1.0.0"}},
		{Channel: "mail", State: notify.LetterPending, Attempts: 3, NextAttempt: now.Add(time.Minute), LastError: "smtp: timeout", Events: 1, Versions: []string{"g/i/2.0.0"}},
		// a channel a reload removed: its message still waits, and it keeps a row
		{Channel: "gone", State: notify.LetterPending, Attempts: 1, NextAttempt: now.Add(time.Minute), LastError: "removed", Events: 1, Versions: []string{"g/i/3.0.0"}},
	}, sends: []state.Sends{
		{Channel: "chat", Type: "slack", LastDelivered: now.Add(-2 * time.Hour), LastDeliveredEvents: 4, Delivered: 9, LastFailed: now.Add(-time.Hour), LastError: "HTTP 404: no_service"},
		{Channel: "mail", Type: "email", LastFailed: now.Add(-time.Minute), LastError: "smtp: timeout"},
	}}
	st := &status.State{Ready: true, History: []status.ScanRecord{{Started: now, Result: status.ResultSuccess}}}
	_, page := get(t, serveWith(t, Options{Daemon: fixedDaemon{st}, Notifications: n}).URL+"/")
	banner, versions := strings.Index(page, `id="state-recovered"`), strings.Index(page, `id="versions"`)
	if banner < 0 || banner > versions || !strings.Contains(page, "state.db.corrupt-20261127T120000Z") {
		t.Error("the recovered state file is not announced above the versions")
	}
	dead := page[strings.Index(page, `id="dead-letters"`):]
	for _, want := range []string{"chat", "HTTP 404: no_service", "g/i/1.0.0", "notify retry --channel"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if !strings.Contains(dead, "smtp: timeout") || !strings.Contains(dead, `id="pending"`) {
		t.Error("the pending messages are not listed after the dead letters")
	}
	// Each channel's last sends open the section: when the last message arrived, the last failure.
	channels := page[strings.Index(page, `id="channels"`):strings.Index(page, `id="dead-letters"`)]
	rows := strings.Split(channels, "<tr")[2:]
	if len(rows) != 3 || !strings.Contains(rows[0], `class="critical"`) || !strings.Contains(rows[0], "2026-11-27 10:00 UTC") ||
		!strings.Contains(rows[0], "4 events; 9 messages in all") || !strings.Contains(rows[0], "HTTP 404: no_service") ||
		!strings.Contains(rows[0], `data-label="dead letters">1<`) {
		t.Fatalf("%d rows; chat's:\n%s", len(rows), rows[0])
	}
	if !strings.Contains(rows[1], `class="warning"`) || !strings.Contains(rows[1], "never") || !strings.Contains(rows[1], "smtp: timeout") ||
		!strings.Contains(rows[1], `data-label="waiting">1<`) {
		t.Errorf("mail's row:\n%s", rows[1])
	}
	if !strings.Contains(rows[2], "gone") || !strings.Contains(rows[2], `data-label="waiting">1<`) {
		t.Errorf("the removed channel's row:\n%s", rows[2])
	}
}

func TestThePageAndTheAPIAreGzippedForClientsThatAskForIt(t *testing.T) {
	v := scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: "i"},
		Version: "1.0.0", ConsumptionEndsAt: now.Add(48 * time.Hour), PurgeAt: now.Add(48 * time.Hour)}
	versions := []scanner.Version{v}
	for i := range 20 { // enough to be worth compressing (gzhttp leaves answers under 1 KiB alone)
		w := v
		w.Version = fmt.Sprintf("1.0.%d", i+1)
		versions = append(versions, w)
	}
	st := &status.State{Ready: true, Snapshot: &scanner.Snapshot{Versions: versions},
		History: []status.ScanRecord{{Started: now, Result: status.ResultSuccess}}}
	srv := serve(t, st)
	for _, path := range []string{"/", "/api/v1/versions"} {
		for _, gz := range []bool{true, false} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if gz {
				req.Header.Set("Accept-Encoding", "gzip") // set by hand, so the client does not undo it
			} else {
				req.Header.Set("Accept-Encoding", "identity")
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body := io.Reader(resp.Body)
			if gz {
				zr, err := gzip.NewReader(resp.Body)
				if err != nil || resp.Header.Get("Content-Encoding") != "gzip" {
					t.Fatalf("%s with gzip: Content-Encoding %q, %v", path, resp.Header.Get("Content-Encoding"), err)
				}
				body = zr
			} else if resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("%s without gzip: Content-Encoding %q", path, resp.Header.Get("Content-Encoding"))
			}
			data, _ := io.ReadAll(body)
			resp.Body.Close()
			if !strings.Contains(string(data), "1.0.0") {
				t.Errorf("%s (gzip %v): the body does not hold the version", path, gz)
			}
		}
	}
}

// The page opens with a summary: the version whose deadline comes first, the counts per urgency,
// and whether the last scan saw everything.
func TestThePageOpensWithTheNextDeadline(t *testing.T) {
	late := scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: "i"},
		Version: "2.0.0", ConsumptionEndsAt: now.Add(90 * time.Hour), PurgeAt: now.Add(90 * time.Hour)}
	soon := scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: "i"},
		Version: "1.0.0", ConsumptionEndsAt: now.Add(5 * time.Hour), PurgeAt: now.Add(5 * time.Hour)}
	st := &status.State{Ready: true, Snapshot: &scanner.Snapshot{Versions: []scanner.Version{late, soon}},
		History: []status.ScanRecord{{Started: now, Result: status.ResultSuccess}}}
	body := page(t, st)
	summary := body[strings.Index(body, `<p id="soonest"`):]
	summary = summary[:strings.Index(summary, "</p>")]
	for _, want := range []string{"g / i / 1.0.0", "purged in 5h", "1 critical", "1 ok", "the last scan read everything"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q: %s", want, summary)
		}
	}
	if strings.Index(body, `id="soonest"`) > strings.Index(body, `id="versions"`) {
		t.Error("the summary comes after the versions")
	}
}

// TestThePageSaysWhichDeletionsLookWrong: each row says routine or why not, a version not judged
// says so, and the routine filter keeps one kind on the page and in the API.
func TestThePageSaysWhichDeletionsLookWrong(t *testing.T) {
	mk := func(name string, triage []string) scanner.Version {
		return scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: "i"},
			Version: name, ConsumptionEndsAt: now.Add(48 * time.Hour), PurgeAt: now.Add(48 * time.Hour), Triage: triage}
	}
	st := &status.State{Ready: true, History: []status.ScanRecord{{Started: now, Result: status.ResultSuccess}}, Snapshot: &scanner.Snapshot{ScannedAt: now, Versions: []scanner.Version{
		mk("1.0.0", []string{}), mk("2.0.0", []string{"in-use", "newest"}), mk("3.0.0", nil)}}}
	srv := serve(t, st)
	_, body := get(t, srv.URL+"/")
	for _, want := range []string{"<th>Routine?</th>", `<span class="muted">routine</span>`,
		"<strong>no</strong>: VMs or scale sets still use it; no newer version replaced it", "not judged"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	_, body = get(t, srv.URL+"/?routine=false")
	if !strings.Contains(body, `<strong class="id">2.0.0</strong>`) || strings.Contains(body, `<strong class="id">1.0.0</strong>`) || strings.Contains(body, `<strong class="id">3.0.0</strong>`) {
		t.Errorf("routine=false shows more than the version that looks wrong")
	}
	if !strings.Contains(body, `<option value="false" selected>`) {
		t.Errorf("the filter does not show what it selected")
	}
	_, body = get(t, srv.URL+"/api/v1/versions?routine=true")
	if !strings.Contains(body, `"total": 1`) || !strings.Contains(body, `"version": "1.0.0"`) {
		t.Errorf("routine=true in the API: %s", body)
	}
	if code, body := get(t, srv.URL+"/api/v1/versions?routine=maybe"); code != http.StatusBadRequest || !strings.Contains(body, `routine=\"maybe\": takes one of false, true`) {
		t.Errorf("routine=maybe: %d %s", code, body)
	}
}
