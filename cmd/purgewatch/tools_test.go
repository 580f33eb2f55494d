package main

import (
	"os"
	"os/exec"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// requireTool finds a real tool a test drives (promtool, chromium). Missing, it skips on a
// developer's machine but fails under CI=true: scripts/install-test-tools.sh must have put it there.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; scripts/install-test-tools.sh installs it", name)
	}
	t.Skipf("%s is not installed; run scripts/install-test-tools.sh", name)
	return ""
}
