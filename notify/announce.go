package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// Liveness tells which of the versions a channel was told of exist again as live versions, so
// that their resolution says "recovered"; *scanner.Scanner.
type Liveness interface {
	LiveVersions(ctx context.Context, ids []string) map[string]bool
}

// livenessBudget bounds the liveness reads of one scan.
const livenessBudget = time.Minute

// Announce is the notifier's part of each scan, in one call: it finds the versions announced
// and no longer in the bin, asks Settings.Liveness which of them were recovered, queues what
// snap calls for (snap is nil when the scan read nothing) and tells every channel of blindness.
func (n *Notifier) Announce(ctx context.Context, snap *scanner.Snapshot, users map[string][]scanner.Workload, cov scanner.Coverage) error {
	defer n.forget()
	var errs []error
	if snap != nil {
		if err := n.announceVersions(ctx, snap, users); err != nil {
			errs = append(errs, err)
		}
	}
	if err := n.Watch(ctx, cov); err != nil {
		errs = append(errs, fmt.Errorf("queuing the scan-failing notification: %w", err))
	}
	return errors.Join(errs...)
}

func (n *Notifier) announceVersions(ctx context.Context, snap *scanner.Snapshot, users map[string][]scanner.Workload) error {
	seen := newPresence(snap) // what the snapshot holds, by version key and id: once a scan
	absent, err := n.absent(seen)
	if err != nil {
		return fmt.Errorf("reading the notification log: %w", err)
	}
	n.mu.Lock()
	liveness := n.s.Liveness
	n.mu.Unlock()
	var live map[string]bool
	if len(absent) > 0 && liveness != nil { // asked outside n.mu: ARM may be slow
		liveCtx, cancel := context.WithTimeout(ctx, livenessBudget)
		live = liveness.LiveVersions(liveCtx, absent)
		cancel()
	}
	return n.process(ctx, snap, seen, users, live)
}
