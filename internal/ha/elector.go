// Package ha runs purgewatch as several replicas with one leader at a time. Leading is holding
// the lease on one blob in an Azure Storage container; the notification log lives in that blob,
// every write to it conditioned on the lease (journal.go), so the next leader reads what the
// last one sent and a deposed leader cannot write. Every replica scans and serves its own metrics
// and page; only the leader announces and sends (gate.go, log.go).
package ha

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/clock"
)

// Elector takes the lease when it is free, renews it while it leads, and lets go on shutdown.
type Elector struct {
	lease    *lease.BlobClient
	journal  *Journal
	duration time.Duration
	identity string
	clock    clock.Clock
	log      *zap.Logger
	// elected makes the replica ready to lead (it reads the log); deposed undoes it. Both run on
	// the elector's goroutine.
	elected func(ctx context.Context) error
	deposed func()
	// leads runs once the replica leads (Replica.Serve): the first announcement and sends.
	leads func(ctx context.Context)

	mu      sync.Mutex
	leading bool      // elected and ready
	until   time.Time // the lease is surely this replica's until then
	leader  string    // who leads, as last read
	lost    chan struct{}
}

// ElectorOptions are what an Elector needs beyond the lease.
type ElectorOptions struct {
	Duration time.Duration
	Identity string
	Clock    clock.Clock
	Log      *zap.Logger
}

// margin is how much sooner than Azure the leader counts its lease gone: its clock and Azure's
// may run a little apart, and a send must never go out after another could hold the lease.
func margin(d time.Duration) time.Duration { return d / 5 }

// poll is how often a standby asks for the lease: a dead leader's is taken within a second of
// its end.
const poll = time.Second

// NewElector is an elector over j's log blob, under a lease id of its own.
func newElector(j *Journal, o ElectorOptions) (*Elector, error) {
	lc, err := lease.NewBlobClient(j.blob, &lease.BlobClientOptions{LeaseID: &j.leaseID})
	if err != nil {
		return nil, fmt.Errorf("lease on %s: %w", logBlob, err)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return &Elector{lease: lc, journal: j, duration: o.Duration, identity: o.Identity, clock: o.Clock, log: o.Log}, nil
}

// Leading reports whether this replica leads now: elected, ready, and its lease surely unexpired.
func (e *Elector) Leading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading && e.clock.Now().Before(e.until)
}

// Leader is who leads, as this replica last saw: itself, another's identity, or "".
func (e *Elector) Leader() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader
}

// Identity is this replica's name.
func (e *Elector) Identity() string { return e.identity }

// Run holds leadership until ctx is done, then releases the lease at once so a standby takes
// over without waiting for it to expire.
func (e *Elector) Run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := e.journal.ensure(ctx); err != nil {
			e.log.Error("the lease's container cannot be reached; this replica stands by", zap.Error(err))
			e.sleep(ctx, poll)
			continue
		}
		sent := e.clock.Now()
		_, err := e.lease.AcquireLease(ctx, int32(e.duration/time.Second), nil)
		if err != nil {
			e.standBy(ctx, err)
			continue
		}
		e.lead(ctx, sent)
	}
}

// standBy notes who holds the lease, then waits to ask again.
func (e *Elector) standBy(ctx context.Context, err error) {
	if !bloberror.HasCode(err, bloberror.LeaseAlreadyPresent) && ctx.Err() == nil {
		e.log.Warn("cannot take the lease; this replica stands by", zap.Error(err))
	}
	if holder, held, herr := e.journal.Holder(ctx); herr == nil {
		e.mu.Lock()
		e.leader = ""
		if held {
			e.leader = holder
		}
		e.mu.Unlock()
	}
	e.sleep(ctx, poll)
}

// lead is one term: renewals on a goroutine of their own, while the log is read and the replica
// leads; it returns when the lease is lost or ctx is done, having let go.
func (e *Elector) lead(ctx context.Context, sent time.Time) {
	term, end := context.WithCancel(ctx)
	e.mu.Lock()
	lost := make(chan struct{})
	e.until, e.lost = sent.Add(e.duration-margin(e.duration)), lost
	e.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { e.renew(term) })
	e.log.Info("took the lease; reading the notification log", zap.String("identity", e.identity))
	err := e.elected(term)
	if err == nil {
		e.mu.Lock()
		e.leading, e.leader = true, e.identity
		e.mu.Unlock()
		e.log.Info("leading: this replica announces and sends", zap.String("identity", e.identity))
		if e.leads != nil {
			e.leads(term)
		}
		select {
		case <-lost:
		case <-ctx.Done():
		}
	} else if ctx.Err() == nil {
		e.log.Error("took the lease but cannot lead; letting go", zap.Error(err))
	}
	end()
	wg.Wait()
	e.stepDown(err == nil)
	release, done := context.WithTimeout(context.Background(), e.duration/3)
	defer done()
	if _, err := e.lease.ReleaseLease(release, nil); err != nil && !Fenced(err) {
		e.log.Warn("could not release the lease; a standby takes over when it expires", zap.Error(err))
	}
	if err != nil || ctx.Err() == nil {
		e.sleep(ctx, poll) // a lease lost or refused: let another take it before asking again
	}
}

// renew keeps the lease until term ends, or closes lost once it cannot be sure of it.
func (e *Elector) renew(term context.Context) {
	every := e.duration / 3
	for e.sleep(term, every) {
		for {
			sent := e.clock.Now()
			rctx, done := context.WithTimeout(term, every)
			_, err := e.lease.RenewLease(rctx, nil)
			done()
			if err == nil {
				e.mu.Lock()
				e.until = sent.Add(e.duration - margin(e.duration))
				e.mu.Unlock()
				break
			}
			if term.Err() != nil {
				return
			}
			e.mu.Lock()
			expired := !e.clock.Now().Before(e.until)
			e.mu.Unlock()
			if Fenced(err) || expired {
				e.log.Error("lost the lease: this replica stops sending and stands by", zap.Error(err))
				e.mu.Lock()
				e.leading = false
				e.loseLocked()
				e.mu.Unlock()
				return
			}
			e.log.Warn("renewing the lease failed; trying again", zap.Error(err))
			if !e.sleep(term, poll) {
				return
			}
		}
	}
}

// Depose gives up leadership now: a write the log refused for its lease, or one it could not
// make its own copy follow. The lease is released, and asked for again.
func (e *Elector) Depose(cause error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.lost == nil || !e.leading {
		return
	}
	e.log.Error("stepping down: the notification log refused a write", zap.Error(cause))
	e.leading = false
	e.loseLocked()
}

// stepDown ends a term; led says whether the replica was elected in it.
func (e *Elector) stepDown(led bool) {
	e.mu.Lock()
	e.leading, e.until, e.leader, e.lost = false, time.Time{}, "", nil
	e.mu.Unlock()
	if led && e.deposed != nil {
		e.deposed()
	}
}

// sleep waits d, or less when ctx ends; it reports whether ctx is still live.
func (e *Elector) sleep(ctx context.Context, d time.Duration) bool {
	return e.clock.Sleep(ctx, d) == nil
}

// loseLocked ends the term once, whoever sees the loss first; callers hold e.mu.
func (e *Elector) loseLocked() {
	if e.lost == nil {
		return
	}
	select {
	case <-e.lost:
	default:
		close(e.lost)
	}
}

// StandbyError is a write asked of a replica that does not lead: the API answers it with 503.
type StandbyError struct{ Leader string }

func (e *StandbyError) Error() string {
	if e.Leader == "" {
		return "this replica is a standby and no replica leads right now: only the leader writes the notification log; try again in a few seconds"
	}
	return "this replica is a standby: only the leader writes the notification log; ask " + e.Leader
}

// Standby marks the error for the API, which does not import this package.
func (e *StandbyError) Standby() bool { return true }
