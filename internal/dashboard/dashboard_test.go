package dashboard

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

var update = flag.Bool("update", false, "rewrite deploy/grafana/purgewatch.json from the code")

const committed = "../../deploy/grafana/purgewatch.json"

func TestCommittedJSONIsTheGeneratedOne(t *testing.T) {
	want, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(committed, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the code generates: run go test ./internal/dashboard -update and commit it", committed)
	}
}

// TestTheJSONLoadsBackAsADashboard reads the committed file as Grafana's schema types, and checks
// what a user relies on: the data source variable, the filters, and every query using them.
func TestTheJSONLoadsBackAsADashboard(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	data, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 the dashboard is v1 JSON on purpose; see Build
	var d dashboard.Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Uid == nil || *d.Uid != UID {
		t.Errorf("uid = %v", d.Uid)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = string(v.Type)
	}
	if vars["datasource"] != "datasource" || vars["subscription"] != "query" || vars["gallery"] != "query" {
		t.Errorf("variables = %v", vars)
	}
	var count int
	for _, p := range d.Panels {
		if p.Panel != nil {
			count++
		}
	}
	if want := len(panels()); count != want {
		t.Errorf("panels = %d, want %d", count, want)
	}
	for _, q := range Queries() {
		if strings.Contains(q.Expr, "seconds_until_purge") {
			t.Errorf("%s: depends on seconds_until_purge, which metrics.relative: false turns off", q.Panel)
		}
	}
	for _, want := range []string{`"uid": "${datasource}"`, `subscription_id=~\"$subscription\"`, `gallery=~\"$gallery\"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the JSON lacks %s", want)
		}
	}
}
