package deploytest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

func TestPromtoolChecksTheRules(t *testing.T) {
	promtool := testtool.Require(t, "promtool")
	out, err := exec.Command(promtool, "check", "rules", repo("deploy/prometheus/rules.yaml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS: 18 rules found") {
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

// TestEveryAlertHasARunbook: each rule's runbook_url points at its own section of
// docs/runbook.md, and the section is there.
func TestEveryAlertHasARunbook(t *testing.T) {
	book, err := os.ReadFile(repo("docs/runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	rules := testtool.AlertRules(t, repo("deploy/prometheus/rules.yaml"))
	for _, r := range rules {
		want := "https://github.com/purgewatch/purgewatch/blob/main/docs/runbook.md#" + strings.ToLower(r.Alert)
		if r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
		}
		if !strings.Contains(string(book), "\n## "+r.Alert+"\n") {
			t.Errorf("docs/runbook.md has no section ## %s", r.Alert)
		}
	}
	if n := len(rules); n != 18 {
		t.Errorf("%d rules, want 18", n)
	}
}
