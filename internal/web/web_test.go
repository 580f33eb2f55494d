package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/daemon"
	"github.com/purgewatch/purgewatch/metrics"
	"github.com/purgewatch/purgewatch/scanner"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type fixedDaemon struct{ st *daemon.State }

func (f fixedDaemon) State() *daemon.State { return f.st }
func (f fixedDaemon) Reload() error        { return nil }

func page(t *testing.T, st *daemon.State) string {
	t.Helper()
	srv := httptest.NewServer(Handler(Options{Daemon: fixedDaemon{st}, Gatherer: prometheus.NewRegistry(),
		Now: func() time.Time { return now }, Logger: zap.NewNop(), ARMEndpoint: func() string { return "https://management.azure.com" }}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestABlindScanIsTheFirstThingThePageSays(t *testing.T) {
	v := scanner.Version{ID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0",
		Gallery: "g", Image: "i", Version: "1.0.0", ConsumptionEndsAt: now.Add(48 * time.Hour), PurgeAt: now.Add(48 * time.Hour)}
	blind := &daemon.State{Ready: true, Started: now.Add(-3 * time.Hour), LastComplete: now.Add(-2 * time.Hour),
		Snapshot: &scanner.Snapshot{Versions: []scanner.Version{v}},
		History: []daemon.ScanRecord{{Started: now, Result: metrics.ResultFailed, Errors: []scanner.ScopeError{
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
	partial.History = []daemon.ScanRecord{{Started: now, Result: metrics.ResultPartial, Errors: []scanner.ScopeError{
		{Scope: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i", Code: "BadResponse", Reason: scanner.ReasonBadResponse}}}}
	if body := page(t, &partial); !strings.Contains(body, "could not read everything") || strings.Contains(body, "cannot see the estate") {
		t.Error("a partial scan gets the partial banner")
	}

	healthy := *blind
	healthy.History = []daemon.ScanRecord{{Started: now, Result: metrics.ResultSuccess}}
	if body := page(t, &healthy); strings.Contains(body, `id="scan-health"`) {
		t.Error("a complete scan shows no banner")
	}
}
