package scanner

import (
	"context"
	"sync"
)

// pool runs jobs on a fixed number of workers; a job may add more jobs. It keeps the goroutines of
// a scan at the concurrency bound however large the estate, where a goroutine per image
// definition would park thousands of them on the request semaphore.
type pool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []func(context.Context)
	pending int // queued or running
}

func newPool() *pool {
	p := &pool{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// add queues a job. Jobs run last-in first-out, so a scan goes deep first and the queue stays short.
func (p *pool) add(job func(context.Context)) {
	p.mu.Lock()
	p.queue = append(p.queue, job)
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
		for len(p.queue) == 0 && p.pending > 0 {
			p.cond.Wait()
		}
		if p.pending == 0 {
			p.mu.Unlock()
			p.cond.Broadcast()
			return
		}
		job := p.queue[len(p.queue)-1]
		p.queue[len(p.queue)-1] = nil
		p.queue = p.queue[:len(p.queue)-1]
		p.mu.Unlock()

		job(ctx)

		p.mu.Lock()
		p.pending--
		done := p.pending == 0
		p.mu.Unlock()
		if done {
			p.cond.Broadcast()
		}
	}
}
