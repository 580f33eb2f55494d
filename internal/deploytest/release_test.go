package deploytest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

// TestWhatATeamChecksBeforeInstalling: the licence, changelog, contributing and security files;
// a Makefile whose build stamps the version as prometheus/common/version reads it; a release
// configuration goreleaser itself accepts; an image build that fills every build-info field; and
// no compiled program in the repository.
func TestWhatATeamChecksBeforeInstalling(t *testing.T) {
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(repo(path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if l := read("LICENSE"); !strings.Contains(l, "Apache License") || !strings.Contains(l, "Version 2.0, January 2004") {
		t.Error("LICENSE is not the Apache License 2.0")
	}
	version := strings.TrimSpace(read("VERSION"))
	if !strings.Contains(read("CHANGELOG.md"), "## "+version+" ") {
		t.Errorf("CHANGELOG.md has no section for VERSION %s", version)
	}
	for _, f := range []string{"SECURITY.md", "CONTRIBUTING.md", ".dockerignore"} {
		read(f)
	}
	makefile := read("Makefile")
	for _, target := range []string{"build:", "test:", "lint:", "image:"} {
		if !strings.Contains(makefile, "\n"+target) {
			t.Errorf("the Makefile has no %s target", target)
		}
	}
	out, err := exec.Command("make", "-C", repo(""), "-n", "build").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, out)
	}
	for _, want := range []string{"version.Version=" + version, "version.Revision=", "version.Branch=", "version.BuildUser=", "version.BuildDate=", "-trimpath"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("make build does not stamp %s: %s", want, out)
		}
	}
	dockerfile := read("deploy/Dockerfile")
	for _, want := range []string{"version.Version=${VERSION}", "version.Revision=${REVISION}", "version.Branch=${BRANCH}", "version.BuildDate=${BUILD_DATE}",
		"org.opencontainers.image.version", "org.opencontainers.image.revision", "org.opencontainers.image.licenses=\"Apache-2.0\""} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("deploy/Dockerfile lacks %s", want)
		}
	}
	if !strings.Contains(read(".dockerignore"), ".git") {
		t.Error(".dockerignore does not keep .git out of the build context")
	}
	goreleaser := testtool.Require(t, "goreleaser")
	check := exec.Command(goreleaser, "check")
	check.Dir = repo("")
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("goreleaser check: %v\n%s", err, out)
	}
	files, err := exec.Command("git", "-C", repo(""), "ls-files").Output()
	if err != nil { // a source tarball has nothing to list; CI always runs in a clone
		if os.Getenv("CI") == "true" {
			t.Fatalf("git ls-files: %v", err)
		}
		t.Logf("not a git checkout (%v): the tracked files are not checked", err)
		return
	}
	for _, f := range strings.Fields(string(files)) {
		b, err := os.ReadFile(repo(f))
		if err == nil && bytes.HasPrefix(b, []byte("\x7fELF")) {
			t.Errorf("%s is a compiled program in the repository (%d bytes): .gitignore should keep it out", f, len(b))
		}
	}
}
