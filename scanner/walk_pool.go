package scanner

import (
	"context"
	"strings"
	"sync"
	"time"
)

// pool runs jobs on a fixed number of workers; a job may add more jobs. It keeps the goroutines of
// a scan at the concurrency bound however large the estate, where a goroutine per image
// definition would park thousands of them on the request semaphore.
//
// Each subscription has a queue of its own, because each has a read budget of its own: a worker
// takes the next job of the subscription whose budget frees up first, taking turns among those
// ready at once. With one queue for all, the workers piled onto one subscription's jobs and slept
// on its budget while the other subscriptions' budgets went unspent (4 × 1,000 image definitions
// took 2.5 times the floor their budgets set).
type pool struct {
	// wait is how long until the subscription can be sent a request beyond ahead already
	// promised (arm.Pipeline.Wait); nil treats every subscription as ready.
	wait func(sub string, ahead int) time.Duration

	mu      sync.Mutex
	cond    *sync.Cond
	queues  map[string][]func(context.Context)
	ring    []string       // subscriptions in the order they take turns
	next    int            // where the next turn starts in ring
	running map[string]int // jobs of each subscription running now
	pending int            // queued or running
}

func newPool(wait func(sub string, ahead int) time.Duration) *pool {
	p := &pool{wait: wait, queues: map[string][]func(context.Context){}, running: map[string]int{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// add queues a job of a subscription. Within a subscription jobs run last-in first-out, so a scan
// goes deep first and the queue stays short.
func (p *pool) add(sub string, job func(context.Context)) {
	sub = strings.ToLower(sub) // as ARM ids spell it, in any case
	p.mu.Lock()
	if _, known := p.queues[sub]; !known {
		p.ring = append(p.ring, sub)
	}
	p.queues[sub] = append(p.queues[sub], job)
	p.pending++
	p.mu.Unlock()
	p.cond.Signal()
}

// run starts workers and returns when every job, including those added on the way, has finished.
// Jobs are expected to return promptly once ctx is done.
func (p *pool) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { p.work(ctx) })
	}
	wg.Wait()
}

func (p *pool) work(ctx context.Context) {
	for {
		p.mu.Lock()
		sub, job := p.take()
		for job == nil && p.pending > 0 {
			p.cond.Wait()
			sub, job = p.take()
		}
		if job == nil {
			p.mu.Unlock()
			p.cond.Broadcast()
			return
		}
		p.running[sub]++
		p.mu.Unlock()

		job(ctx)

		p.mu.Lock()
		p.running[sub]--
		p.pending--
		done := p.pending == 0
		p.mu.Unlock()
		if done {
			p.cond.Broadcast()
		}
	}
}

// take dequeues the job to run next: from the subscription whose budget frees up first, counting
// the jobs of it already running, the first in turn among equals. Called with mu held; nil when
// nothing is queued.
func (p *pool) take() (string, func(context.Context)) {
	best, bestWait := -1, time.Duration(0)
	for i := range p.ring {
		at := (p.next + i) % len(p.ring)
		sub := p.ring[at]
		if len(p.queues[sub]) == 0 {
			continue
		}
		var w time.Duration
		if p.wait != nil {
			w = p.wait(sub, p.running[sub])
		}
		if best < 0 || w < bestWait {
			best, bestWait = at, w
		}
		if w <= 0 {
			break // ready now, and first in turn
		}
	}
	if best < 0 {
		return "", nil
	}
	sub := p.ring[best]
	q := p.queues[sub]
	job := q[len(q)-1]
	q[len(q)-1] = nil
	p.queues[sub] = q[:len(q)-1]
	p.next = (best + 1) % len(p.ring)
	return sub, job
}
