package deploytest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

func TestPromtoolChecksTheRules(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	out, err := exec.Command(promtool, "check", "rules", repo("deploy/prometheus/rules.yaml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS: 14 rules found") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolRunsTheRuleUnitTests(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	out, err := exec.Command(promtool, "test", "rules", repo("deploy/prometheus/rules_test.yaml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
