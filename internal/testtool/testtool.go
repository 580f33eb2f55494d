// Package testtool finds and starts the real programs purgewatch's tests drive: promtool,
// Chromium, mailpit, Alertmanager. scripts/install-test-tools.sh installs them; a test that needs
// one skips on a developer's machine without it, but fails under CI=true.
package testtool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Require returns the path of a tool, looking on PATH and in Go's bin directory.
func Require(t testing.TB, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			p := filepath.Join(string(bytes.TrimSpace(gopath)), "bin", name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; scripts/install-test-tools.sh installs it", names[0])
	}
	t.Skipf("%s is not installed; run scripts/install-test-tools.sh", names[0])
	return ""
}

var handedOut sync.Map // ports FreePort has returned in this process, never returned twice

// FreePort returns a loopback port nothing listens on at the moment and that this process has
// not handed out before. Another process may still take it before the test binds it; Serve
// retries on that.
func FreePort(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := handedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
}

// Serve runs a server program on n fresh loopback ports until the test ends, and returns the
// ports once the program's readiness URL answers 200. launch turns the ports into that URL and
// the program's arguments. A port is only free until somebody binds it: when the program exits
// because another process took one first, Serve tries again on new ports.
func Serve(t testing.TB, n int, path string, launch func(ports []int) (readyURL string, args []string)) []int {
	t.Helper()
	return serve(t, n, path, launch, func(status int) bool { return status == http.StatusOK })
}

// ServeAnswering is Serve for a program with no health endpoint: it is ready once the URL gets
// any answer from it (an emulator refusing an unsigned request is up).
func ServeAnswering(t testing.TB, n int, path string, launch func(ports []int) (url string, args []string)) []int {
	t.Helper()
	return serve(t, n, path, launch, func(int) bool { return true })
}

func serve(t testing.TB, n int, path string, launch func(ports []int) (string, []string), ready func(status int) bool) []int {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ports := make([]int, n)
		for i := range ports {
			ports[i] = FreePort(t)
		}
		url, args := launch(ports)
		out, exited := start(t, url, path, args, ready)
		if exited == nil {
			return ports
		}
		if attempt == 3 || !strings.Contains(out, "address already in use") {
			t.Fatalf("%s exited: %v\n%s", path, exited, out)
		}
		t.Logf("%s: a port was taken before it could bind (%v); trying new ports", filepath.Base(path), ports)
	}
}

// start runs the program and waits for url to answer 200. It returns a non-nil error, with the
// program's output, when the program exits first.
func start(t testing.TB, url string, path string, args []string, ready func(status int) bool) (string, error) {
	t.Helper()
	var out SyncBuffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	// done is closed once Wait returns, so both the wait below and the cleanup can see it.
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(path), out.String())
		}
	})
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-done:
			if waitErr == nil {
				waitErr = fmt.Errorf("it stopped before it was ready")
			}
			return out.String(), waitErr
		default:
		}
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if ready(resp.StatusCode) {
				return "", nil
			}
		}
		time.Sleep(50 * time.Millisecond) // polling a process we do not control for readiness
	}
	t.Fatalf("%s did not answer %s within 30s\n%s", path, url, out.String())
	return "", nil
}

// Addr is 127.0.0.1:port.
func Addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// URL is http://127.0.0.1:port.
func URL(port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }

// SyncBuffer is a bytes.Buffer that a process's goroutines may write while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Eventually polls cond until it holds or timeout passes. It is for waiting on a process the
// test does not control (Prometheus evaluating rules, Alertmanager notifying, a purgewatch binary
// scanning); synchronise on anything in-process instead. On a timeout the test fails naming what
// it waited for, followed by what each show returns then (the process's logs, the last answer).
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool, show ...func() string) {
	t.Helper()
	// The wait between polls doubles from 10 ms to a hundredth of the timeout (20 ms to 1 s): a
	// quick condition is seen quickly, and a long wait does not load the process it polls (a
	// /metrics of 100,000 versions, in the load benchmarks).
	most := min(max(timeout/100, 20*time.Millisecond), time.Second)
	wait := 10 * time.Millisecond
	for deadline := time.Now().Add(timeout); ; time.Sleep(wait) {
		wait = min(2*wait, most)
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("timed out after %s waiting for %s", timeout, what)
			for _, f := range show {
				msg += "\n" + f()
			}
			t.Fatal(msg)
		}
	}
}

// GetJSON decodes the JSON answer of a GET that must succeed.
func GetJSON(t testing.TB, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}
