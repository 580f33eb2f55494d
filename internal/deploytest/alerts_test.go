package deploytest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

// The rig of issue 23's measurement: a real Prometheus evaluating the shipped rules against two
// purgewatch replicas, two clustered Alertmanagers, and a webhook receiver behind them.

// amReceiver is the webhook behind the Alertmanagers: it counts the firing notifications of each
// group.
type amReceiver struct {
	mu     sync.Mutex
	groups map[string]int
}

func (r *amReceiver) serve(t *testing.T) string {
	r.groups = map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var n struct {
			Status   string `json:"status"`
			GroupKey string `json:"groupKey"`
		}
		_ = json.NewDecoder(req.Body).Decode(&n)
		if n.Status == "firing" {
			r.mu.Lock()
			r.groups[n.GroupKey]++
			r.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *amReceiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.groups)
}

// alertmanagers starts two Alertmanagers in one cluster, notifying hook once per group.
func alertmanagers(t *testing.T, hook string) []string {
	t.Helper()
	bin := testtool.Require(t, "prometheus-alertmanager", "alertmanager")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	body := fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname, subscription_id, resource_group, gallery, image, version]
  group_wait: 1s
  group_interval: 10m
  repeat_interval: 12h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
`, hook)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var urls []string
	var first int
	for i := range 2 {
		ports := testtool.Serve(t, 2, bin, func(p []int) (string, []string) {
			args := []string{"--config.file=" + cfg, fmt.Sprintf("--storage.path=%s/data%d", dir, i), "--web.listen-address=" + testtool.Addr(p[0]),
				"--cluster.listen-address=" + testtool.Addr(p[1]), "--cluster.advertise-address=" + testtool.Addr(p[1]),
				"--cluster.peer-timeout=1s", "--cluster.settle-timeout=2s", "--cluster.gossip-interval=100ms"}
			if i > 0 {
				args = append(args, "--cluster.peer="+testtool.Addr(first))
			}
			return testtool.URL(p[0]) + "/-/ready", args
		})
		if i == 0 {
			first = ports[1]
		}
		urls = append(urls, testtool.URL(ports[0]))
	}
	return urls
}

// replica starts `purgewatch run --demo`, with config (a path, or "" for the demo's own).
func replica(t *testing.T, config string) string {
	t.Helper()
	port := testtool.Serve(t, 1, binary, func(p []int) (string, []string) {
		args := []string{"run", "--demo", "--listen", testtool.Addr(p[0])}
		if config != "" {
			args = append(args, "--config.file", config)
		}
		return testtool.URL(p[0]) + "/readyz", args
	})[0]
	return testtool.Addr(port)
}

// prometheusFor scrapes targets with the shipped rules, alerting to ams, with an external label
// as prometheus-operator sets one.
func prometheusFor(t *testing.T, targets, ams []string) {
	t.Helper()
	prom := testtool.Require(t, "prometheus")
	dir := t.TempDir()
	rules, err := filepath.Abs(repo("deploy/prometheus/rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var amHosts []string
	for _, a := range ams {
		amHosts = append(amHosts, strings.TrimPrefix(a, "http://"))
	}
	quoted := func(ss []string) string { b, _ := json.Marshal(ss); return string(b) }
	cfg := filepath.Join(dir, "prometheus.yml")
	body := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels: {prometheus: monitoring/k8s}
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs:
        - targets: %s
scrape_configs:
  - job_name: purgewatch
    static_configs:
      - targets: %s
`, rules, quoted(amHosts), quoted(targets))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	testtool.Serve(t, 1, prom, func(p []int) (string, []string) {
		return testtool.URL(p[0]) + "/-/ready", []string{"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + testtool.Addr(p[0])}
	})
}

type heldAlert struct {
	Labels map[string]string `json:"labels"`
}

// held is what an Alertmanager holds, by version state: the labels but the target and external
// ones, each with how many alerts carry them.
func held(t *testing.T, am string) (map[string]int, []heldAlert) {
	t.Helper()
	var alerts []heldAlert
	testtool.GetJSON(t, am+"/api/v2/alerts?active=true&silenced=false&inhibited=false", &alerts)
	states := map[string]int{}
	for _, a := range alerts {
		l := maps.Clone(a.Labels)
		for _, k := range []string{"instance", "job", "prometheus"} {
			delete(l, k)
		}
		keys := slices.Sorted(maps.Keys(l))
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + l[k] + ",")
		}
		states[b.String()]++
	}
	return states, alerts
}

// oneAlertEach checks the rig's Alertmanagers: every version state one alert, the version alerts
// the demo should raise among them, and every group notified once.
func oneAlertEach(t *testing.T, ams []string, rx *amReceiver, fromRules bool) {
	t.Helper()
	var states map[string]int
	var alerts []heldAlert
	testtool.Eventually(t, 60*time.Second, "the demo's alerts in Alertmanager", func() bool {
		states, alerts = held(t, ams[0])
		n := map[string]int{}
		for _, a := range alerts {
			n[a.Labels["alertname"]]++
		}
		// the demo's three deletions that are not routine, its two versions in use, its gallery with soft delete off
		return n["PurgewatchVersionDeleted"] >= 3 && n["PurgewatchSoftDeletedVersionInUse"] >= 2 && n["PurgewatchGallerySoftDeleteOff"] >= 1
	})
	for _, am := range ams {
		states, alerts = held(t, am)
		for state, n := range states {
			if n != 1 {
				t.Errorf("%s holds %d alerts for %s", am, n, state)
			}
		}
		for _, a := range alerts {
			_, ruled := a.Labels["prometheus"]
			pushed := strings.HasPrefix(a.Labels["alertname"], "PurgewatchVersion") || a.Labels["alertname"] == "PurgewatchNoCompleteScan"
			if a.Labels["instance"] != "" || pushed && ruled != fromRules {
				t.Errorf("%s: %v (from the rules: %v, want %v)", am, a.Labels, ruled, fromRules)
			}
		}
	}
	// Every group notified, once: the second Alertmanager waits its peer timeout (1s) and finds
	// the first one's notification in the gossiped log. Watched for five peer timeouts more.
	groups := func() int {
		var g []json.RawMessage
		testtool.GetJSON(t, ams[0]+"/api/v2/alerts/groups", &g)
		return len(g)
	}
	testtool.Eventually(t, 30*time.Second, "a notification for every group", func() bool {
		n := groups()
		return len(rx.counts()) >= n && n > 0
	})
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) { // an absence, watched
		for key, n := range rx.counts() {
			if n > 1 {
				t.Fatalf("group %s notified %d times", key, n)
			}
		}
	}
	if n := groups(); len(rx.counts()) != n {
		_, all := held(t, ams[0])
		t.Errorf("%d groups notified, Alertmanager has %d: %v\n%v", len(rx.counts()), n, rx.counts(), all)
	}
}

// TestOneAlertPerVersionFromTheRules: two replicas scraped, the rules alone: one alert per version
// state, without the target labels, and one notification per group.
func TestOneAlertPerVersionFromTheRules(t *testing.T) {
	rx := &amReceiver{}
	ams := alertmanagers(t, rx.serve(t))
	prometheusFor(t, []string{replica(t, ""), replica(t, "")}, ams)
	oneAlertEach(t, ams, rx, true)
}

// TestOneAlertPerVersionFromTheChannel: two replicas each pushing through an alertmanager channel,
// and Prometheus with the rules: the rules stand down, the replicas' pushes merge, one alert per
// version state and one notification per group.
func TestOneAlertPerVersionFromTheChannel(t *testing.T) {
	rx := &amReceiver{}
	ams := alertmanagers(t, rx.serve(t))
	var targets []string
	for i := range 2 {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config.yaml")
		body := fmt.Sprintf("notify:\n  stateFile: %s\n  channels:\n    - {name: am, type: alertmanager, urls: [%s, %s]}\n", filepath.Join(dir, fmt.Sprintf("s%d.db", i)), ams[0], ams[1])
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, replica(t, cfg))
	}
	prometheusFor(t, targets, ams)
	oneAlertEach(t, ams, rx, false)
}
