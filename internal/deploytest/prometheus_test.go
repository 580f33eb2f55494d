package deploytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/dashboard"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

type promResult struct {
	Status    string
	ErrorType string
	Error     string
	Data      struct {
		ResultType string
		Result     []struct {
			Metric map[string]string
			Value  []any
		}
	}
}

func promQuery(t *testing.T, base, expr string) promResult {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r promResult
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v: %s", expr, err, body)
	}
	return r
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testtool.Eventually(t, 60*time.Second, what, cond)
}

// dashboardExpr fills in what Grafana would: every subscription and gallery, a rate window.
func dashboardExpr(expr string) string {
	return strings.NewReplacer(`$subscription`, `.*`, `$gallery`, `.*`, `$__rate_interval`, `1m`).Replace(expr)
}

// TestPrometheusScrapesTheDemo runs purgewatch --demo and a real Prometheus scraping it with the
// shipped rules: every dashboard query runs, those the demo fills return data, and the critical
// alert fires for exactly the versions purged within a day.
func TestPrometheusScrapesTheDemo(t *testing.T) {
	prom := testtool.Require(t, "prometheus")
	pwPort := testtool.Serve(t, 1, binary, func(p []int) (string, []string) {
		return testtool.URL(p[0]) + "/readyz", []string{"run", "--demo", "--listen", testtool.Addr(p[0])}
	})[0]
	pw := testtool.URL(pwPort)

	dir := t.TempDir()
	rules, err := filepath.Abs(repo("deploy/prometheus/rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	body := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: purgewatch
    static_configs:
      - targets: [%q]
`, rules, testtool.Addr(pwPort))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	promPort := testtool.Serve(t, 1, prom, func(p []int) (string, []string) {
		return testtool.URL(p[0]) + "/-/ready", []string{"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + testtool.Addr(p[0])}
	})[0]
	base := testtool.URL(promPort)

	// rate() over 1m needs a few samples: wait for them.
	eventually(t, "a few scrapes of purgewatch", func() bool {
		r := promQuery(t, base, `count_over_time(purgewatch_build_info[1m]) >= 5`)
		return len(r.Data.Result) == 1
	})

	for _, q := range dashboard.Queries() {
		expr := dashboardExpr(q.Expr)
		r := promQuery(t, base, expr)
		if r.Status != "success" {
			t.Errorf("%s: %s: %s %s", q.Panel, expr, r.ErrorType, r.Error)
			continue
		}
		if q.DemoFills && len(r.Data.Result) == 0 {
			t.Errorf("%s: %s returns no data from the demo", q.Panel, expr)
		}
	}

	// Which versions does purgewatch itself say are purged within a day?
	resp, err := http.Get(pw + "/api/v1/versions")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Versions []struct {
			Version           string `json:"version"`
			SecondsUntilPurge int64  `json:"secondsUntilPurge"`
			Routine           *bool  `json:"routine"`
		} `json:"versions"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Routine versions (superseded, unused) page no one: the deadline rules stand down for them,
	// and every version that is not routine fires PurgewatchVersionDeleted.
	var want, deleted []string
	for _, v := range doc.Versions {
		if v.Routine == nil {
			t.Fatalf("version %s was not judged", v.Version)
		}
		if !*v.Routine {
			deleted = append(deleted, v.Version)
		}
		if v.SecondsUntilPurge < 24*3600 && !*v.Routine {
			want = append(want, v.Version)
		}
	}
	slices.Sort(want)
	slices.Sort(deleted)
	if len(want) < 2 || len(deleted) == len(doc.Versions) {
		t.Fatalf("the demo has %d versions not routine within a day, %d not routine of %d; it should show both kinds", len(want), len(deleted), len(doc.Versions))
	}
	firing := func(alert string, want []string) {
		t.Helper()
		var got []string
		eventually(t, alert+" to fire for "+strings.Join(want, ", "), func() bool {
			r := promQuery(t, base, `ALERTS{alertname="`+alert+`", alertstate="firing"}`)
			got = got[:0]
			for _, s := range r.Data.Result {
				got = append(got, s.Metric["version"])
			}
			slices.Sort(got)
			return slices.Equal(got, want)
		})
	}
	firing("PurgewatchVersionPurgeImminent", want)
	firing("PurgewatchVersionDeleted", deleted)
	r := promQuery(t, base, `ALERTS{alertname="PurgewatchGallerySoftDeleteOff", alertstate="firing"}`)
	if len(r.Data.Result) != 1 || r.Data.Result[0].Metric["gallery"] != "legacyimages" {
		t.Errorf("soft-delete-off alerts = %+v", r.Data.Result)
	}
}
