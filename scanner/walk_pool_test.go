package scanner

import (
	"context"
	"slices"
	"testing"
	"time"
)

// A worker takes the subscription whose budget is ready, taking turns among those ready at once,
// and leaves one whose budget is spent for last, however early its jobs were queued.
func TestAWorkerTakesTheSubscriptionWhoseBudgetIsReady(t *testing.T) {
	ready := map[string]time.Duration{"a": time.Second, "b": 0, "c": 0, "d": 2 * time.Second}
	p := newPool(func(sub string, _ int) time.Duration { return ready[sub] })
	var order []string
	for _, sub := range []string{"d", "a", "a", "b", "b", "c", "c"} {
		p.add(sub, func(context.Context) { order = append(order, sub) })
	}
	p.run(context.Background(), 1)
	if want := []string{"b", "c", "b", "c", "a", "a", "d"}; !slices.Equal(order, want) {
		t.Errorf("ran %v, want %v", order, want)
	}
}

// The jobs of a subscription already running count against its budget: with room for one more
// read, a second job of it waits behind another subscription's that is ready sooner.
func TestRunningJobsCountAgainstTheBudget(t *testing.T) {
	p := newPool(func(sub string, running int) time.Duration {
		if sub == "a" {
			if running > 0 {
				return time.Second
			}
			return 0
		}
		return 500 * time.Millisecond
	})
	var order []string
	p.add("a", func(context.Context) { order = append(order, "a2") })
	p.add("a", func(context.Context) {
		order = append(order, "a1")
		// a1 still runs: the pool takes a's second job only after b's.
		p.mu.Lock()
		sub, job := p.take()
		p.mu.Unlock()
		if sub != "b" {
			t.Errorf("while a's job runs the pool offers %q", sub)
		}
		job(context.Background())
		p.mu.Lock()
		p.pending--
		p.mu.Unlock()
	})
	p.add("b", func(context.Context) { order = append(order, "b") })
	p.run(context.Background(), 1)
	if want := []string{"a1", "b", "a2"}; !slices.Equal(order, want) {
		t.Errorf("ran %v, want %v", order, want)
	}
}
