package deploytest

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on the unit, pointed at the binary built
// for the tests. verify only warns about an unknown key, so any output at all is a failure.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := testtool.Require(t, "systemd-analyze")
	unit, err := os.ReadFile(repo("deploy/systemd/purgewatch.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=purgewatch", "ProtectSystem=strict", "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	path := filepath.Join(t.TempDir(), "purgewatch.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/purgewatch", binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestDockerfileBuildsAStaticBinary builds the way deploy/Dockerfile does (no Docker engine
// runs here) and checks the result needs no dynamic loader, so distroless/static can run it.
func TestDockerfileBuildsAStaticBinary(t *testing.T) {
	dockerfile, err := os.ReadFile(repo("deploy/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)RUN (CGO_ENABLED=0 go build .*?\./cmd/purgewatch)`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("no go build line in deploy/Dockerfile")
	}
	for _, want := range []string{"FROM gcr.io/distroless/static", "USER 65532:65532", "-trimpath"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	out := filepath.Join(t.TempDir(), "purgewatch")
	const stamp = "-X github.com/prometheus/common/version.Version="
	args := []string{"build", "-trimpath", "-ldflags", "-s -w " + stamp + "test -X github.com/prometheus/common/version.Revision=test", "-o", out, "./cmd/purgewatch"}
	if !strings.Contains(string(m[1]), "-trimpath") || !strings.Contains(string(m[1]), stamp) {
		t.Fatalf("the Dockerfile's build line changed; update this test: %s", m[1])
	}
	build := exec.Command("go", args...)
	build.Dir = repo("")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary wants a dynamic loader; distroless/static has none")
		}
	}
	version, err := exec.Command(out, "version").Output()
	if err != nil || !strings.Contains(string(version), "purgewatch, version test (branch: , revision: test)") {
		t.Errorf("version = %q, %v", version, err)
	}
}
