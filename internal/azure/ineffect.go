package azure

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// InEffect is the scanner of the configuration in effect, built anew on each reload. The daemon
// scans with it and the notifier asks it whether a version that left the bin is live again, so
// both go through one pipeline and one read budget per subscription, rather than two that would
// each spend ARM's. Registered with the reload coordinator before the daemon, its reload takes
// effect before the daemon's.
type InEffect struct {
	opts    Options
	current atomic.Pointer[scanner.Scanner]
}

// NewInEffect connects as cfg says.
func NewInEffect(cfg *config.Config, o Options) (*InEffect, error) {
	c, err := Connect(cfg, o)
	if err != nil {
		return nil, err
	}
	s := &InEffect{opts: o}
	s.current.Store(c.Scanner)
	return s, nil
}

// Prepare is reload.Component's: next's scanner is built now, in effect once every part agrees.
func (s *InEffect) Prepare(_, next *config.Config) (func(), error) {
	c, err := Connect(next, s.opts)
	if err != nil {
		return nil, err
	}
	return func() { s.current.Store(c.Scanner) }, nil
}

// Scan, Inventory, Deletions and LiveVersions are the scanner in effect's (daemon.Scanner,
// deleters.Source, notify.Liveness).
func (s *InEffect) Scan(ctx context.Context) (*scanner.Snapshot, error) {
	return s.current.Load().Scan(ctx)
}

func (s *InEffect) Inventory(ctx context.Context, subscriptions []string, images []scanner.ImageDefinition) *scanner.Inventory {
	return s.current.Load().Inventory(ctx, subscriptions, images)
}

func (s *InEffect) Deletions(ctx context.Context, since map[string]time.Time, until time.Time) (map[string][]scanner.Deletion, map[string]scanner.ScopeError) {
	return s.current.Load().Deletions(ctx, since, until)
}

func (s *InEffect) LiveVersions(ctx context.Context, ids []string) map[string]bool {
	return s.current.Load().LiveVersions(ctx, ids)
}
