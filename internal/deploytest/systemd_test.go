package deploytest

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
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

// TestTheSystemdInstallIsReadableByItsDynamicUser follows the README's install steps into a
// directory, with its file modes, and runs the unit's ExecStartPre (`config check`) as an
// unprivileged user, as DynamicUser=yes does, with the secrets in its environment as systemd
// passes EnvironmentFile. A config.yaml of 0640, root's, was unreadable to the service.
func TestTheSystemdInstallIsReadableByItsDynamicUser(t *testing.T) {
	if os.Geteuid() != 0 {
		// Acting as another user needs root. CI runs as root, and there the test must run.
		if os.Getenv("CI") == "true" {
			t.Fatal("acting as the service's dynamic user needs root, which CI has")
		}
		t.Skip("acting as another user needs root; CI runs it")
	}
	readme, err := os.ReadFile(repo("docs/deployment.md"))
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(repo("deploy/systemd/purgewatch.service"))
	if err != nil {
		t.Fatal(err)
	}
	mode := func(file string) os.FileMode {
		m := regexp.MustCompile(`install -D -m (0[0-7]{3}) \S+ ` + regexp.QuoteMeta(file)).FindSubmatch(readme)
		if m == nil {
			t.Fatalf("docs/deployment.md installs no %s", file)
		}
		v, _ := strconv.ParseUint(string(m[1]), 8, 32)
		return os.FileMode(v)
	}
	if !strings.Contains(string(unit), "EnvironmentFile=-/etc/purgewatch/env") || !strings.Contains(string(unit), "--config.file=/etc/purgewatch/config.yaml") {
		t.Fatal("the unit reads other files than docs/deployment.md installs")
	}
	// A directory the unprivileged user can walk, as /etc is.
	root := t.TempDir()
	for _, dir := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin, cfg, env := filepath.Join(root, "purgewatch"), filepath.Join(root, "config.yaml"), filepath.Join(root, "env")
	exe, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	config := "notify:\n  stateFile: /var/lib/purgewatch/state.db\n  channels:\n    - {name: chat, type: slack, webhookURL: \"${SLACK_WEBHOOK_URL}\"}\n"
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{bin, exe, 0o755}, {cfg, []byte(config), mode("/etc/purgewatch/config.yaml")}, {env, []byte("SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/x\n"), mode("/etc/purgewatch/env")}} {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	if mode("/etc/purgewatch/env")&0o077 != 0 {
		t.Errorf("the secrets file is installed %v: readable beyond root", mode("/etc/purgewatch/env"))
	}
	check := exec.Command(bin, "config", "check", "--config.file="+cfg)
	check.Env = []string{"SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T/B/x"}
	check.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 61234, Gid: 61234}}
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("config check as the service's user: %v\n%s", err, out)
	}
	// And that user cannot read the secrets file, which only systemd needs to.
	peek := exec.Command("/bin/cat", env)
	peek.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 61234, Gid: 61234}}
	if out, err := peek.CombinedOutput(); err == nil {
		t.Errorf("the service's user can read the secrets file: %s", out)
	}
}
