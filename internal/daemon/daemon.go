// Package daemon keeps purgewatch scanning: a scan at start-up and then on the configured schedule,
// never two at once, each merged over the last good data of the scopes that failed. It holds the
// state every reader (metrics, the status page, notifications) takes as an immutable value.
package daemon

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/metrics"
	"github.com/purgewatch/purgewatch/scanner"
)

// Scanner is what the daemon runs on each tick; *scanner.Scanner in production.
type Scanner interface {
	Scan(ctx context.Context) (*scanner.Snapshot, error)
	// Inventory lists the workloads and live versions the audit judges.
	Inventory(ctx context.Context, subscriptions []string, images []scanner.ImageDefinition) *scanner.Inventory
}

// Announcer turns each scan into notifications; *notify.Notifier in production.
type Announcer interface {
	// Announce hears of every scan, once: the merged snapshot (nil when the scan read nothing),
	// which workloads the audit found on which version (nil without an audit), and whether the
	// estate was seen whole and since when it was not.
	Announce(ctx context.Context, snap *scanner.Snapshot, users map[string][]scanner.Workload, cov scanner.Coverage) error
}

// Attributer sets who deleted each version of a snapshot; *deleters.Finder in production.
type Attributer interface {
	Attribute(ctx context.Context, snap *scanner.Snapshot, now time.Time)
}

// Sizer remembers the live versions' sizes and sets RetainedBytes; *retained.Memory in production.
type Sizer interface {
	Mark(snap *scanner.Snapshot, live map[string]int64)
}

// Options configures a Daemon.
type Options struct {
	// Scanner is the scanner of the configuration in effect: it follows a reload itself (as a
	// part the coordinator prepares before the daemon), so the daemon never builds one.
	Scanner Scanner
	// Announcer, when set, hears of every snapshot a scan produces.
	Announcer Announcer
	Clock     clock.Clock
	Logger    *zap.Logger
	Metrics   *metrics.Process
	// History is how many past scans State keeps; 0 means 20.
	History int
	// Deleters, when set, tells who deleted each version (internal/deleters) before triage
	// judges it.
	Deleters Attributer
	// Sizes, when set, says what each version retains (internal/retained), from the sizes the
	// audit read of the live ones.
	Sizes Sizer
	// Settle, when set, runs after each scan is published and announced: `run` hands the scan's
	// garbage back to the operating system there.
	Settle func()
}

// Daemon schedules scans and holds their State.
type Daemon struct {
	opts     Options
	scanning sync.Mutex // held for the length of a scan: a tick that cannot take it is skipped
	state    atomic.Pointer[status.State]

	mu     sync.Mutex // guards what a reload replaces
	cfg    *config.Config
	cron   *cron.Cron
	entry  cron.EntryID
	runCtx context.Context // the context ticks scan under, from Run
}

// New returns a Daemon for cfg, already validated.
func New(cfg *config.Config, opts Options) (*Daemon, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.History <= 0 {
		opts.History = 20
	}
	if opts.Scanner == nil {
		return nil, errors.New("daemon.New: no scanner")
	}
	d := &Daemon{opts: opts, cfg: cfg}
	d.state.Store(&status.State{Started: opts.Clock.Now()})
	if opts.Metrics != nil {
		opts.Metrics.ConfigLoaded(true, opts.Clock.Now())
	}
	return d, nil
}

// Config returns the configuration in effect.
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// State returns the current state; never nil, never modified afterwards.
func (d *Daemon) State() *status.State { return d.state.Load() }

// Prepare is the daemon's part of a reload (reload.Component): the apply puts next's schedule,
// timeouts and audit in effect for the next scan (the one running keeps its own).
func (d *Daemon) Prepare(_, next *config.Config) (func(), error) {
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		old := d.cfg
		d.cfg = next
		if d.cron != nil && next.Scan.Schedule != old.Scan.Schedule {
			if err := d.scheduleLocked(); err != nil { // validated by config: cannot fail
				d.opts.Logger.Error("rescheduling", zap.Error(err))
			}
		}
		if next.Server != old.Server {
			d.opts.Logger.Warn("server settings change only on restart", zap.String("listen", old.Server.Listen))
		}
	}, nil
}

// Run scans at once and then on the schedule until ctx is done; then it stops the scheduler,
// lets the scan in flight see the cancellation, and returns when no scan is left running.
func (d *Daemon) Run(ctx context.Context) error {
	d.mu.Lock()
	d.cron = cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cron.DiscardLogger))
	err := d.schedule(ctx)
	d.mu.Unlock()
	if err != nil {
		return err
	}
	d.cron.Start()
	d.ScanOnce(ctx)
	<-ctx.Done()
	<-d.cron.Stop().Done()
	return nil
}

func (d *Daemon) schedule(ctx context.Context) error {
	sched, err := config.ParseSchedule(d.cfg.Scan.Schedule)
	if err != nil {
		return err
	}
	d.entry = d.cron.Schedule(sched, cron.FuncJob(func() { d.ScanOnce(ctx) }))
	d.runCtx = ctx
	return nil
}

func (d *Daemon) scheduleLocked() error {
	d.cron.Remove(d.entry)
	return d.schedule(d.runCtx)
}

// ScanOnce runs one scan unless one is already running, in which case it returns a skipped
// record at once.
func (d *Daemon) ScanOnce(ctx context.Context) status.ScanRecord {
	if !d.scanning.TryLock() {
		d.opts.Logger.Warn("previous scan still running; skipping this tick")
		if d.opts.Metrics != nil {
			d.opts.Metrics.ScanSkipped()
		}
		return status.ScanRecord{Started: d.opts.Clock.Now(), Result: status.ResultSkipped}
	}
	defer d.scanning.Unlock()

	d.mu.Lock()
	s, timeout, auditCfg, expected := d.opts.Scanner, d.cfg.Scan.Timeout, d.cfg.Audit, d.cfg.Notify.Expected
	d.mu.Unlock()

	start := d.opts.Clock.Now()
	scanCtx, cancel := context.WithTimeout(ctx, timeout)
	snap, err := s.Scan(scanCtx)
	cancel()
	rec := status.ScanRecord{Started: start, Duration: d.opts.Clock.Now().Sub(start)}
	prev := d.state.Load()
	next := &status.State{Ready: true, Snapshot: prev.Snapshot, Audit: prev.Audit, LastComplete: prev.LastComplete, Started: prev.Started}
	switch {
	case err != nil:
		rec.Result, rec.Err = status.ResultFailed, err.Error()
		next.Subscriptions = failAll(prev.Subscriptions)
		if errors.Is(err, context.Canceled) {
			rec.Err = "cancelled: " + rec.Err
		}
	default:
		rec.Errors, rec.Versions = snap.Errors, len(snap.Versions)
		switch {
		case snap.Failed():
			rec.Result = status.ResultFailed
		case snap.Partial():
			rec.Result = status.ResultPartial
		default:
			rec.Result = status.ResultSuccess
		}
		next.Snapshot = scanner.Merge(prev.Snapshot, snap)
		next.Subscriptions = health(prev.Subscriptions, snap)
		next.LastComplete = prev.LastComplete
		if snap.Complete() {
			next.LastComplete = snap.ScannedAt
		}
		if d.opts.Deleters != nil {
			attrCtx, cancel := context.WithTimeout(ctx, timeout)
			d.opts.Deleters.Attribute(attrCtx, next.Snapshot, d.opts.Clock.Now())
			cancel()
		}
		var facts triage.Facts // without the audit nothing is known: no version is routine
		if auditCfg.Enabled {
			next.Audit, rec.AuditErrors = d.audit(ctx, s, next.Snapshot, auditCfg.MinRetentionDays, timeout)
			facts = next.Audit.Facts
			next.Snapshot.Consumed = next.Audit.Consumed
		}
		if d.opts.Sizes != nil {
			var live map[string]int64 // nothing read live: nothing forgotten
			if next.Audit != nil && auditCfg.Enabled {
				live = next.Audit.Sizes
			}
			d.opts.Sizes.Mark(next.Snapshot, live)
		}
		triage.Mark(next.Snapshot, facts, expected)
	}
	next.History = append([]status.ScanRecord{rec}, prev.History[:min(len(prev.History), d.opts.History-1)]...)
	// Queue the notifications before publishing the state: once /readyz says ready, the first
	// scan's warnings are safely in the notification log.
	if d.opts.Announcer != nil {
		seen, users := next.Snapshot, map[string][]scanner.Workload(nil)
		if err != nil {
			seen = nil // this scan read nothing: nothing to announce or resolve from it
		}
		if next.Audit != nil {
			users = next.Audit.References
		}
		cov := scanner.Coverage{Complete: next.Healthy(), Since: next.BlindSince(), Errors: rec.Errors}
		if err := d.opts.Announcer.Announce(ctx, seen, users, cov); err != nil {
			d.opts.Logger.Error("queuing notifications", zap.Error(err))
		}
	}
	d.state.Store(next)

	if d.opts.Metrics != nil {
		d.opts.Metrics.ScanFinished(rec.Result, rec.Duration, rec.Errors)
		d.opts.Metrics.ScanHealth(next.Healthy(), next.LastComplete)
	}
	d.logScan(rec, snap)
	if d.opts.Settle != nil {
		d.opts.Settle()
	}
	return rec
}

// logScan says how a scan went: once, at the level its outcome calls for, with what to do when
// it read nothing.
func (d *Daemon) logScan(rec status.ScanRecord, snap *scanner.Snapshot) {
	fields := []zap.Field{zap.String("result", rec.Result), zap.Duration("took", rec.Duration),
		zap.Int("versions", rec.Versions), zap.Int("failedScopes", len(rec.Errors))}
	if snap != nil && snap.Stats.BinsCarried > 0 {
		fields = append(fields, zap.Int("binsCarried", snap.Stats.BinsCarried))
	}
	switch {
	case rec.Err != "":
		d.opts.Logger.Error("scan failed", append(fields, zap.String("error", rec.Err))...)
	case rec.Result == status.ResultFailed:
		// Nothing was read: say why once, loudly, with what to do (the scopes were logged as warnings).
		for _, e := range rec.Errors {
			if e.Scope == scanner.RootScope {
				fields = append(fields, zap.String("code", e.Code), zap.String("message", e.Message), zap.String("advice", e.Advice()))
			}
		}
		d.opts.Logger.Error("scan read nothing; the last good data is kept", fields...)
	default:
		d.opts.Logger.Info("scan finished", fields...)
	}
}

// health carries each subscription's last success forward and records this scan's outcome. A
// scan that could not even list the subscriptions keeps every one it knew of, as failed.
func health(prev []status.SubscriptionHealth, snap *scanner.Snapshot) []status.SubscriptionHealth {
	last := make(map[string]time.Time, len(prev))
	for _, h := range prev {
		last[h.ID] = h.LastSuccess
	}
	out := make([]status.SubscriptionHealth, 0, len(snap.Subscriptions))
	if snap.Failed() {
		out = failAll(prev)
	}
	out = slices.DeleteFunc(out, func(h status.SubscriptionHealth) bool {
		return slices.ContainsFunc(snap.Subscriptions, func(s scanner.Subscription) bool { return s.ID == h.ID })
	})
	for _, s := range snap.Subscriptions {
		h := status.SubscriptionHealth{ID: s.ID, Success: s.Complete, LastSuccess: last[s.ID]}
		if s.Complete {
			h.LastSuccess = snap.ScannedAt
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func failAll(prev []status.SubscriptionHealth) []status.SubscriptionHealth {
	out := make([]status.SubscriptionHealth, len(prev))
	for i, h := range prev {
		h.Success = false
		out[i] = h
	}
	return out
}

// audit judges the merged snapshot; its report says which workloads use each soft-deleted
// version (the snapshot itself is never written once made).
func (d *Daemon) audit(ctx context.Context, s Scanner, snap *scanner.Snapshot, minRetention int, timeout time.Duration) (*audit.Report, []scanner.ScopeError) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	report, errs := audit.Run(ctx, s, snap, minRetention, d.opts.Clock.Now())
	return &report, errs
}
