package testtool

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB whose Fatalf ends only the goroutine that calls it, as the real one
// does, so a test can watch Serve fail.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	logs     []string
	fatal    string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal != ""
}
func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}
func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

// serveScript runs Serve on a shell script that exits early (given the port it was offered), as a
// test's goroutine would, then runs the cleanups Serve registered: they must return.
func serveScript(t *testing.T, script func(port int) string) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Serve(r, 1, "/bin/sh", func(p []int) (string, []string) { return URL(p[0]), []string{"-c", script(p[0])} })
	}()
	<-done
	for _, cleanup := range r.cleanups {
		cleanup()
	}
	return r
}

// A program that keeps losing its port is tried three times, then reported with its output,
// and its cleanups return: an early exit used to leave the cleanup waiting forever, turning a
// failed start into the whole package's ten-minute timeout.
func TestServeRetriesATakenPortThenFails(t *testing.T) {
	r := serveScript(t, func(port int) string {
		return "echo 'listen tcp " + Addr(port) + ": bind: address already in use' >&2; exit 1"
	})
	if len(r.cleanups) != 3 {
		t.Errorf("%d starts, want 3", len(r.cleanups))
	}
	if len(r.logs) < 2 || !strings.Contains(r.logs[0], "trying new ports") {
		t.Errorf("logs = %q, want a retry noted for each taken port", r.logs)
	}
	if !strings.Contains(r.fatal, "address already in use") {
		t.Errorf("failure = %q, want the program's own words", r.fatal)
	}
}

// Any other early exit is reported at once: retrying a broken config would only hide it.
func TestServeReportsOtherExitsAtOnce(t *testing.T) {
	r := serveScript(t, func(int) string { return "echo 'error loading config' >&2; exit 2" })
	if len(r.cleanups) != 1 || !strings.Contains(r.fatal, "error loading config") {
		t.Errorf("%d starts, failure %q; want one start reported with its output", len(r.cleanups), r.fatal)
	}
}

func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
