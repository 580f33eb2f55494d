package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

func getJSON(t *testing.T, url string, into any) { testtool.GetJSON(t, url, into) }

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testtool.Eventually(t, 30*time.Second, what, cond)
}

func TestEmailDigestArrivesInMailpit(t *testing.T) {
	mailpit := testtool.Require(t, "mailpit")
	ports := testtool.Serve(t, 2, mailpit, func(p []int) (string, []string) {
		return testtool.URL(p[1]) + "/api/v1/info", []string{"--smtp", testtool.Addr(p[0]), "--listen", testtool.Addr(p[1]), "--disable-version-check"}
	})
	smtpPort, httpPort := ports[0], ports[1]

	h := newHarness(t, config.Channel{Name: "mail", Type: config.ChannelEmail, From: "purgewatch@example.com",
		To: []string{"cloud-ops@example.com", "oncall@example.com"}, SMTP: config.SMTP{Host: "127.0.0.1", Port: smtpPort, TLS: "none"}})
	h.scan(snapshot(t0,
		ver("prodimages", "1.2.0", t0.Add(2*time.Hour+39*time.Minute), 0, nil),
		ver("prodimages", "1.3.0", t0.Add(20*time.Hour), 0, nil)), nil)

	var list struct {
		Messages []struct {
			ID      string
			Subject string
			To      []struct{ Address string }
		}
	}
	getJSON(t, testtool.URL(httpPort)+"/api/v1/messages", &list)
	if len(list.Messages) != 1 {
		t.Fatalf("mailpit holds %d messages, want one digest", len(list.Messages))
	}
	m := list.Messages[0]
	if want := "[purgewatch] 2 soft-deleted image versions need attention: first purged in 2h 39m (2026-11-27 14:39 UTC)"; m.Subject != want {
		t.Errorf("subject = %q, want %q", m.Subject, want)
	}
	if len(m.To) != 2 {
		t.Errorf("to = %+v", m.To)
	}
	var full struct{ Text, HTML string }
	getJSON(t, testtool.URL(httpPort)+"/api/v1/message/"+m.ID, &full)
	for _, want := range []string{"2 soft-deleted image versions need attention: first purged in 2h 39m (2026-11-27 14:39 UTC).\r\n",
		"EXPIRING (6h): prodimages/img/1.2.0: purged in 2h 39m", "EXPIRING (24h): prodimages/img/1.3.0", "az rest --method patch",
		"Status page: " + externalURL} {
		if !strings.Contains(full.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, full.Text)
		}
	}
	for _, want := range []string{"<strong>1.2.0</strong>", `<a href="` + externalURL + `"`, "2 soft-deleted image versions need attention"} {
		if !strings.Contains(full.HTML, want) {
			t.Errorf("html part lacks %q:\n%s", want, full.HTML)
		}
	}
	readOnAPhone(t, full.HTML, []string{"rgb(220, 38, 38)", "rgb(220, 38, 38)"})
}

// readOnAPhone opens an e-mail's HTML in headless Chromium at 390 px, as a phone shows it: nothing
// may be wider than the screen, and each version's card carries its urgency's colour, the
// status page's.
func readOnAPhone(t *testing.T, html string, colours []string) {
	t.Helper()
	chromium := testtool.Require(t, "chromium")
	path := filepath.Join(t.TempDir(), "mail.html")
	if err := os.WriteFile(path, []byte(html), 0o600); err != nil {
		t.Fatal(err)
	}
	b := testtool.OpenBrowser(t, chromium)
	b.Load(t, "file://"+path, 390, 844, "light")
	var l struct {
		ScrollWidth, ClientWidth int
		Borders                  []string
	}
	if err := b.Evaluate(`JSON.parse(JSON.stringify({
		ScrollWidth: document.documentElement.scrollWidth, ClientWidth: document.documentElement.clientWidth,
		Borders: [...document.querySelectorAll(".event")].map(e => getComputedStyle(e).borderLeftColor),
	}))`, &l); err != nil {
		t.Fatal(err)
	}
	if l.ScrollWidth > l.ClientWidth || l.ClientWidth > 390 {
		t.Errorf("the e-mail is %d px wide on a %d px screen: it scrolls sideways", l.ScrollWidth, l.ClientWidth)
	}
	if !slices.Equal(l.Borders, colours) {
		t.Errorf("cards' colours = %v, want %v", l.Borders, colours)
	}
}

// amWebhook receives Alertmanager's own notifications, to see what it concluded.
type amWebhook struct {
	mu       sync.Mutex
	payloads []amNotification
}

type amNotification struct {
	Status string
	Alerts []struct {
		Status   string
		Labels   map[string]string
		StartsAt time.Time
		EndsAt   time.Time
	}
}

func (w *amWebhook) with(status string) []amNotification {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []amNotification
	for _, p := range w.payloads {
		if p.Status == status {
			out = append(out, p)
		}
	}
	return out
}

func startAlertmanager(t *testing.T, bin, receiverURL string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	body := fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname, version]
  group_wait: 100ms
  group_interval: 1s
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
`, receiverURL)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testtool.Serve(t, 1, bin, func(p []int) (string, []string) {
		return testtool.URL(p[0]) + "/-/ready", []string{"--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + testtool.Addr(p[0]), "--cluster.listen-address="}
	})[0]
	return testtool.URL(port)
}

type amAlert struct {
	Labels   map[string]string
	StartsAt time.Time
	EndsAt   time.Time
	Status   struct{ State string }
}

func TestAlertmanagerShowsThenResolvesTheAlert(t *testing.T) {
	bin := testtool.Require(t, "prometheus-alertmanager", "alertmanager")
	hook := &amWebhook{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n amNotification
		_ = json.NewDecoder(r.Body).Decode(&n)
		hook.mu.Lock()
		hook.payloads = append(hook.payloads, n)
		hook.mu.Unlock()
	}))
	defer receiver.Close()
	ams := []string{startAlertmanager(t, bin, receiver.URL), startAlertmanager(t, bin, receiver.URL)}

	h := newHarness(t, config.Channel{Name: "am", Type: config.ChannelAlertmanager, URLs: ams})
	now := time.Now().UTC().Truncate(time.Second) // Alertmanager judges endsAt by its own clock
	h.clock.Set(now)
	v := ver("prodimages", "1.2.0", now.Add(5*time.Hour), 0, nil)
	h.scan(snapshot(now, v), nil)

	for _, am := range ams { // every Alertmanager, not one of them
		var alerts []amAlert
		getJSON(t, am+"/api/v2/alerts", &alerts)
		if len(alerts) != 1 {
			t.Fatalf("%s holds %d alerts", am, len(alerts))
		}
		a := alerts[0]
		want := map[string]string{"alertname": AlertPurgeImminent, "severity": "critical", "deadline": "purge", "subscription_id": sub,
			"resource_group": "rg", "gallery": "prodimages", "image": "img", "version": "1.2.0", "location": "westeurope"}
		for k, val := range want {
			if a.Labels[k] != val {
				t.Errorf("%s: label %s = %q, want %q", am, k, a.Labels[k], val)
			}
		}
		if a.Status.State != "active" || !a.StartsAt.Equal(now) || !a.EndsAt.Equal(now.Add(45*time.Minute)) {
			t.Errorf("%s: state %s, startsAt %v, endsAt %v", am, a.Status.State, a.StartsAt, a.EndsAt)
		}
	}

	// Alertmanager only tells of a resolution it had told of firing: let each one notify first.
	eventually(t, "Alertmanager's firing notifications", func() bool { return len(hook.with("firing")) >= len(ams) })

	// A scan later the version was recovered: the alert is resolved, with its original startsAt.
	// endsAt is "now", which Alertmanager honours only if it is not ahead of its own clock: use
	// the real one, as production does.
	h.clock.Set(time.Now())
	h.scan(snapshot(h.clock.Now()), map[string]bool{strings.ToLower(v.ID()): true})
	for _, am := range ams {
		eventually(t, "the alert to leave "+am, func() bool {
			var alerts []amAlert
			getJSON(t, am+"/api/v2/alerts", &alerts)
			return len(alerts) == 0
		})
	}
	eventually(t, "Alertmanager's resolved notification", func() bool { return len(hook.with("resolved")) > 0 })
	got := hook.with("resolved")[0].Alerts[0]
	if !got.StartsAt.Equal(now) || got.Labels["version"] != "1.2.0" || got.Status != "resolved" {
		t.Errorf("resolved alert = %+v, want startsAt %v", got, now)
	}
}
