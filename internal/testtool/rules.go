package testtool

import (
	"os"
	"testing"

	"sigs.k8s.io/yaml"
)

// AlertRule is one alerting rule of deploy/prometheus/rules.yaml, as the tests that hold other
// parts to it read it.
type AlertRule struct {
	Alert       string            `json:"alert"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// AlertRules reads the alerting rules of a Prometheus rule file, every group's in order.
func AlertRules(t testing.TB, path string) []AlertRule {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []AlertRule `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []AlertRule
	for _, g := range file.Groups {
		out = append(out, g.Rules...)
	}
	return out
}
