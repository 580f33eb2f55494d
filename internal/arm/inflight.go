package arm

import (
	"bytes"
	"context"
	"sync/atomic"
)

// What decoding a body costs. The SDK decodes a whole body into its own types, and what that
// holds grows with the body's JSON structure more than with its bytes: `[{},{},…]` holds 22
// bytes of heap for each byte read. So a body is weighed as its bytes plus structureWeight for
// each character that opens an object or array or separates a member or element, which keeps
// what a decoded page holds within about twice its weight, whatever its shape. A real recycle-bin
// page of 100 versions weighs about 110 KiB.
const structureWeight = 32

// Weigh returns what p costs to hold and decode.
func Weigh(p []byte) int64 {
	n := len(p)
	for _, c := range []byte("{[,:") {
		n += structureWeight * bytes.Count(p, []byte{c})
	}
	return int64(n)
}

// Bounds on the bodies held at once, across every call of a Pipeline.
const (
	// DefaultMaxBody bounds one success body's weight: far above any real ARM page.
	DefaultMaxBody = 8 << 20
	// DefaultBodiesInFlight is the weight all bodies being read or decoded may share; one body
	// more, up to the cap, may be in flight past it (the lane), so that the budget never
	// deadlocks. The two bound what responses hold to about 50 MiB, inside the chart's default
	// 256 MiB pod (docs/benchmarks.md, "The worst bodies").
	DefaultBodiesInFlight = 16 << 20
)

// bodyBudget is the bodies-in-flight budget: a shared part any call takes from without waiting,
// and a lane one call at a time holds when the shared part is spent. The lane's holder waits for
// nothing but its own body, so the calls queued for the lane always move.
type bodyBudget struct {
	limit int64
	used  atomic.Int64
	lane  chan struct{}
	// waiting, when set, hears of a call starting to wait for the lane (tests synchronise on it).
	waiting func()
}

func newBodyBudget(limit int64) *bodyBudget {
	return &bodyBudget{limit: limit, lane: make(chan struct{}, 1)}
}

func (b *bodyBudget) tryShared(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

func (b *bodyBudget) waitLane(ctx context.Context) error {
	select {
	case b.lane <- struct{}{}:
		return nil
	default:
	}
	if b.waiting != nil {
		b.waiting()
	}
	select {
	case b.lane <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *bodyBudget) give(shared int64, lane bool) {
	b.used.Add(-shared)
	if lane {
		<-b.lane
	}
}
