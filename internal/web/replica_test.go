package web

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/scanner"
)

// standbyBackend keeps no silence: every write is a standby's (internal/ha's StandbyError).
type standbyBackend struct{}

type standbyErr struct{}

func (standbyErr) Error() string {
	return "this replica is a standby: only the leader writes the notification log; ask pw-0"
}
func (standbyErr) Standby() bool { return true }

func (standbyBackend) LoadSilences() (map[string][]byte, error)       { return map[string][]byte{}, nil }
func (standbyBackend) SaveSilences(map[string][]byte, []string) error { return standbyErr{} }

// A standby says so first on its page, naming who leads; the leader's page says nothing of it.
// A silence asked of a standby is refused with 503, naming the leader.
func TestAStandbySaysSoAndSendsWritesToTheLeader(t *testing.T) {
	st := &status.State{Ready: true, History: []status.ScanRecord{{Result: status.ResultSuccess}}}
	standby := serveWith(t, Options{Daemon: fixedDaemon{st}, EnableLifecycle: true, Silences: silence.NewStore(standbyBackend{}),
		Replica: func() Replica { return Replica{Identity: "pw-1", Leader: "pw-0"} }})
	_, page := get(t, standby.URL+"/")
	banner, versions := strings.Index(page, `id="standby"`), strings.Index(page, `id="versions"`)
	if banner < 0 || banner > versions {
		t.Fatal("a standby's page does not say so above the versions")
	}
	if section := page[banner:versions]; !strings.Contains(section, "pw-1") || !strings.Contains(section, "<strong>pw-0</strong> leads") {
		t.Errorf("the banner does not name this replica and the leader:\n%s", section)
	}
	leader := serveWith(t, Options{Daemon: fixedDaemon{st}, Replica: func() Replica { return Replica{Identity: "pw-0", Leader: "pw-0", Leading: true} }})
	if _, page := get(t, leader.URL+"/"); strings.Contains(page, `id="standby"`) {
		t.Error("the leader says it is a standby")
	}
	resp, err := http.Post(standby.URL+"/api/v1/silences", "application/json", bytes.NewBufferString(
		`{"matchers": [{"name": "gallery", "op": "=", "value": "ci"}], "duration": "1d", "createdBy": "alice", "comment": "rebuilding"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.String(), "ask pw-0") {
		t.Errorf("a silence asked of a standby: %d %s; want 503 naming the leader", resp.StatusCode, body.String())
	}
}

// Another publisher's image version your workloads use, soft-deleted: the page says so before
// the versions, with when scale-outs fail, what uses it, and that only the publisher can help.
func TestThePageSaysWhichConsumedImagesTheirPublisherDeleted(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	st := &status.State{Ready: true, Snapshot: &scanner.Snapshot{ScannedAt: now}, History: []status.ScanRecord{{Result: status.ResultSuccess}},
		Audit: &audit.Report{Consumed: []scanner.ConsumedVersion{{Kind: "community", ID: "/CommunityGalleries/contoso-public/Images/ubuntu/Versions/1.0.3",
			Gallery: "contoso-public", Image: "ubuntu", Version: "1.0.3", Location: "westeurope", State: "SoftDeleted",
			ConsumptionEndsAt: now.Add(36 * time.Hour), Workloads: []string{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web"}}}}}
	_, page := get(t, serveWith(t, Options{Daemon: fixedDaemon{st}, Now: func() time.Time { return now }}).URL+"/")
	at, versions := strings.Index(page, `id="consumed"`), strings.Index(page, `id="versions"`)
	if at < 0 || at > versions {
		t.Fatal("the page does not list the consumed image above the versions")
	}
	section := page[at:versions]
	for _, want := range []string{"contoso-public", "1.0.3", "community gallery, westeurope", "fail in 1d 12h", ">web<", "Only the publisher can recover"} {
		if !strings.Contains(section, want) {
			t.Errorf("the section lacks %q:\n%s", want, section)
		}
	}
}
