package main

import (
	"context"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/metrics"
	"github.com/purgewatch/purgewatch/scanner"
)

// configSource is the one way `run` reads its configuration, at start and on each reload: the
// file, pointed at the built-in simulated estate under --demo, then the flags.
type configSource struct {
	flags *runFlags
	sim   *demo // nil without --demo
}

func newConfigSource(f *runFlags) (*configSource, error) {
	src := &configSource{flags: f}
	if *f.demo {
		sim, err := startDemo()
		if err != nil {
			return nil, err
		}
		src.sim = sim
	}
	return src, nil
}

func (c *configSource) load() (*config.Config, error) {
	cfg, err := loadConfig(*c.flags.config)
	if err != nil {
		return nil, err
	}
	if c.sim != nil {
		c.sim.apply(cfg)
	}
	return cfg, c.flags.override(cfg)
}

func (c *configSource) close() {
	if c.sim != nil {
		c.sim.stop()
	}
}

// scanners is the scanner in effect, built anew for each configuration: the daemon scans with it
// and the notifier asks it whether a version that left the bin is live again, so both go
// through one pipeline, and one read budget per subscription, rather than two that would each
// spend ARM's. Registered before the daemon, its reload takes effect before the daemon's.
type scanners struct {
	observer arm.Observer
	log      *zap.Logger
	// memory keeps incremental scans' memory of the recycle bins: the state file, or nil when
	// there is none (no channel).
	memory  scanner.BinMemory
	current atomic.Pointer[scanner.Scanner]
}

func newScanners(cfg *config.Config, observer arm.Observer, log *zap.Logger, memory scanner.BinMemory) (*scanners, error) {
	s := &scanners{observer: observer, log: log, memory: memory}
	sc, err := newScanner(cfg, observer, log, memory)
	if err != nil {
		return nil, err
	}
	s.current.Store(sc)
	return s, nil
}

// Prepare is reload.Component's: next's scanner is built now, in effect once every part agrees.
func (s *scanners) Prepare(_, next *config.Config) (func(), error) {
	sc, err := newScanner(next, s.observer, s.log, s.memory)
	if err != nil {
		return nil, err
	}
	return func() { s.current.Store(sc) }, nil
}

// Scan, Inventory and LiveVersions are the scanner in effect's (daemon.Scanner, notify.Liveness).
func (s *scanners) Scan(ctx context.Context) (*scanner.Snapshot, error) {
	return s.current.Load().Scan(ctx)
}

func (s *scanners) Inventory(ctx context.Context, subscriptions []string, images []scanner.ImageDefinition) *scanner.Inventory {
	return s.current.Load().Inventory(ctx, subscriptions, images)
}

func (s *scanners) LiveVersions(ctx context.Context, ids []string) map[string]bool {
	return s.current.Load().LiveVersions(ctx, ids)
}

// loggingPart is the reload's part for what takes effect at once: the log level and whether the
// exposition computes relative metrics.
type loggingPart struct {
	level      zap.AtomicLevel
	exposition *metrics.Exposition
}

// Prepare is reload.Component's.
func (p loggingPart) Prepare(_, next *config.Config) (func(), error) {
	return func() {
		_ = p.level.UnmarshalText([]byte(next.Log.Level))
		p.exposition.SetRelative(next.Metrics.Relative)
	}, nil
}
