package ha

import (
	"context"
	"sync"

	"github.com/purgewatch/purgewatch/scanner"
)

// Announcer is what the gate passes scans to: the notifier (daemon.Announcer).
type Announcer interface {
	Announce(ctx context.Context, snap *scanner.Snapshot, users map[string][]scanner.Workload, cov scanner.Coverage) error
}

// Gate lets only the leader announce. A standby scans as the leader does, so that its metrics
// and page are right and it leads with the newest scan in hand: the moment it leads, it
// announces that scan, without waiting for the next.
type Gate struct {
	next    Announcer
	leading func() bool

	mu   sync.Mutex // one announcement at a time, in the order of the scans
	last *announcement
}

type announcement struct {
	snap      *scanner.Snapshot
	users     map[string][]scanner.Workload
	cov       scanner.Coverage
	announced bool
}

// NewGate passes to next the scans made while leading says so.
func NewGate(next Announcer, leading func() bool) *Gate { return &Gate{next: next, leading: leading} }

// Announce hears of every scan: the leader announces it; a standby keeps it.
func (g *Gate) Announce(ctx context.Context, snap *scanner.Snapshot, users map[string][]scanner.Workload, cov scanner.Coverage) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last = &announcement{snap: snap, users: users, cov: cov}
	if !g.leading() {
		return nil
	}
	g.last.announced = true
	return g.next.Announce(ctx, snap, users, cov)
}

// Lead announces the newest scan not yet announced: what this replica saw while it stood by.
func (g *Gate) Lead(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.last
	if a == nil || a.announced || !g.leading() {
		return nil
	}
	a.announced = true
	return g.next.Announce(ctx, a.snap, a.users, a.cov)
}
