package reload

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
)

// fixture is a coordinator over a file, with results recorded.
type fixture struct {
	path    string
	c       *Coordinator
	results []bool
}

func newFixture(t *testing.T, body string) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "config.yaml")}
	f.write(t, body)
	cfg, err := config.Load(f.path)
	if err != nil {
		t.Fatal(err)
	}
	f.c = New(cfg, func() (*config.Config, error) { return config.Load(f.path) }, nil, func(ok bool, _ time.Time) { f.results = append(f.results, ok) })
	return f
}

func (f *fixture) write(t *testing.T, body string) {
	t.Helper()
	if err := os.WriteFile(f.path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

const withChannel = "notify:\n  stateFile: /tmp/s.db\n  channels:\n    - {name: ops, type: log}\n"

func TestAReloadAppliesEverywhereOrNowhere(t *testing.T) {
	f := newFixture(t, withChannel)
	var applied []string
	part := func(name string, refuse bool) Component {
		return Func(func(_, next *config.Config) (func(), error) {
			if refuse && next.Scan.Schedule == "@every 5m" {
				return nil, errors.New(name + " cannot take it")
			}
			return func() { applied = append(applied, name+":"+next.Scan.Schedule) }, nil
		})
	}
	f.c.Register(part("a", false), part("b", true), part("c", false))

	f.write(t, withChannel+"scan:\n  schedule: \"@every 5m\"\n")
	if err := f.c.Reload(); err == nil || !strings.Contains(err.Error(), "b cannot take it") {
		t.Fatalf("Reload = %v", err)
	}
	if len(applied) != 0 || f.c.Config().Scan.Schedule == "@every 5m" {
		t.Fatalf("a refused reload applied %v", applied)
	}
	f.write(t, withChannel+"scan:\n  schedule: \"@every 7m\"\n")
	if err := f.c.Reload(); err != nil {
		t.Fatal(err)
	}
	if want := "a:@every 7m b:@every 7m c:@every 7m"; strings.Join(applied, " ") != want {
		t.Errorf("applied %v, want %s", applied, want)
	}
	if f.c.Config().Scan.Schedule != "@every 7m" || len(f.results) != 2 || f.results[0] || !f.results[1] {
		t.Errorf("config %q, results %v", f.c.Config().Scan.Schedule, f.results)
	}
}

func TestAReloadRefusesAnEmptyFileAndAQuietlyDroppedChannel(t *testing.T) {
	f := newFixture(t, withChannel)
	f.write(t, "")
	if err := f.c.Reload(); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty file: %v", err)
	}
	f.write(t, "notify:\n  stateFile: /tmp/s.db\n")
	if err := f.c.Reload(); err == nil || !strings.Contains(err.Error(), "drops every notification channel ([ops])") {
		t.Errorf("dropped channels: %v", err)
	}
	if len(f.c.Config().Notify.Channels) != 1 {
		t.Fatal("a refused reload changed the channels")
	}
	f.write(t, "notify:\n  stateFile: /tmp/s.db\n  channels: []\n")
	if err := f.c.Reload(); err != nil || len(f.c.Config().Notify.Channels) != 0 {
		t.Errorf("channels: [] said explicitly: %v", err)
	}
}

// A storm of reloads from many goroutines (SIGHUP and /-/reload at once) is serialised: under
// -race nothing is reported, and every component sees whole configurations, one at a time.
func TestAReloadStormIsSerialised(t *testing.T) {
	f := newFixture(t, withChannel)
	var inside, most int
	var mu sync.Mutex
	f.c.Register(Func(func(_, next *config.Config) (func(), error) {
		mu.Lock()
		inside++
		most = max(most, inside)
		mu.Unlock()
		return func() {
			mu.Lock()
			inside--
			mu.Unlock()
		}, nil
	}))
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() { _ = f.c.Reload() })
	}
	wg.Wait()
	if most != 1 || len(f.results) != 32 {
		t.Errorf("at most %d reloads at once, %d results", most, len(f.results))
	}
}
