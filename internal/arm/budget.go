package arm

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"golang.org/x/time/rate"

	"github.com/purgewatch/purgewatch/internal/clock"
)

// ReadBudget is ARM's documented read budget per subscription, principal and region.
var ReadBudget = Budget{Burst: 250, PerSecond: 25}

// margin is the share of a budget purgewatch leaves unspent: requests arrive at ARM a latency
// later than they leave, unevenly, and a bucket run exactly at ARM's own saw stray 429s.
const margin = 0.02

// Adapting the rate to what ARM is seen to refill.
const (
	// refillWindow is how long ARM's remaining-reads header is watched before its refill rate is
	// estimated: long enough to average out the order in which concurrent answers arrive.
	refillWindow = 2 * time.Second
	// adaptShare is the share of the estimated refill purgewatch spends once ARM's bucket has
	// been seen to run lower than its own.
	adaptShare = 0.95
	// minPerSecond is the slowest a subscription is read, whatever the estimate.
	minPerSecond = 0.5
	// drift is how many reads ARM's count may lag purgewatch's (answers in flight) before
	// purgewatch believes ARM's.
	drift = 2
)

// budget is one subscription's read budget as purgewatch spends it: a token bucket a little
// inside ARM's, brought down whenever ARM says fewer reads are left
// (x-ms-ratelimit-remaining-subscription-reads), slowed to the refill ARM is seen to give when
// other callers share the budget, sped up again while ARM's bucket stays well filled, and paused
// for as long as a 429 asks.
type budget struct {
	mu      sync.Mutex
	limiter *rate.Limiter
	ceiling rate.Limit // the configured rate, less the margin: adapting never goes above it
	paused  time.Time  // no request before this (a 429's Retry-After)

	// The current estimation window: ARM's remaining reads at its start, the successful reads
	// answered since, and whether ARM was seen below purgewatch's own count (or throttled).
	windowStart time.Time
	windowLeft  int
	windowReads int
	behind      bool
}

func newBudget(b Budget) *budget {
	ceiling := rate.Limit(b.PerSecond * (1 - margin))
	burst := max(1, int(float64(b.Burst)*(1-margin)))
	return &budget{limiter: rate.NewLimiter(ceiling, burst), ceiling: ceiling}
}

// maxPause bounds how long a 429 pauses a subscription's reads: ARM's bucket refills at 25 reads a
// second (ReadBudget), so an empty one is full again within a minute. A longer ask (ten years,
// a date in 9999) is honoured for five minutes, the scopes it stops reported as throttled
// meanwhile: never a subscription paused for good.
const maxPause = 5 * time.Minute

// ErrBudgetPaused is returned for a request that would have to wait, past its deadline, for the
// end of a pause ARM asked for on the whole subscription (a 429 with a long Retry-After).
var ErrBudgetPaused = errors.New("arm: ARM throttled the subscription's reads until after this scan's deadline")

// wait returns when a request may be sent: after any pause, with a token of the bucket. It takes
// the token only when it is there, rather than reserving one ahead: a reservation made at the
// old rate would still go out after ARM had said to slow down, or to pause.
func (b *budget) wait(ctx context.Context, c clock.Clock) error {
	for {
		now := c.Now()
		b.mu.Lock()
		delay := b.paused.Sub(now)
		if delay > 0 && pastDeadline(ctx, b.paused) {
			b.mu.Unlock()
			return ErrBudgetPaused // as throttlePolicy does: never sleep past the deadline
		}
		if delay <= 0 {
			if b.limiter.AllowN(now, 1) {
				b.mu.Unlock()
				return nil
			}
			delay = b.untilToken(now, 1)
		}
		b.mu.Unlock()
		if err := c.Sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// untilToken is how long until the bucket holds n tokens; at least a millisecond, so that a
// waiter woken a hair early does not spin.
func (b *budget) untilToken(now time.Time, n int) time.Duration {
	short := float64(n) - b.limiter.TokensAt(now)
	return max(time.Duration(short/float64(b.limiter.Limit())*float64(time.Second)), time.Millisecond)
}

// ready is how long until a request beyond ahead already promised could be sent.
func (b *budget) ready(now time.Time, ahead int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	wait := max(b.paused.Sub(now), 0)
	if b.limiter.TokensAt(now) < float64(ahead+1) {
		wait = max(wait, b.untilToken(now, ahead+1))
	}
	return wait
}

// observe learns from an answer: its status, ARM's remaining reads (-1 when not given), whether
// a 429 throttled the subscription's reads as a whole (rather than one resource provider's
// operation, which throttlePolicy waits out for that request alone) and how long ARM asks to
// wait.
func (b *budget) observe(now time.Time, status, remaining int, wholeSubscription bool, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if status == http.StatusTooManyRequests {
		if !wholeSubscription {
			return
		}
		if until := now.Add(min(retryAfter, maxPause)); until.After(b.paused) {
			b.paused = until
		}
		b.drain(now, 0)
		b.fallBehind(now)
		return
	}
	if remaining < 0 || status >= 400 {
		return
	}
	if left := b.limiter.TokensAt(now); left > float64(remaining+drift) {
		b.drain(now, remaining) // ARM counts fewer reads left: others spend this budget too
		b.fallBehind(now)
	}
	if b.windowStart.IsZero() {
		b.windowStart, b.windowLeft = now, remaining
		return
	}
	b.windowReads++
	elapsed := now.Sub(b.windowStart)
	if elapsed < refillWindow {
		return
	}
	limit := b.limiter.Limit()
	switch {
	case b.behind:
		// What ARM refilled: what it has left now, less what it had, plus what was spent.
		refill := float64(remaining-b.windowLeft+b.windowReads) / elapsed.Seconds()
		limit = max(min(rate.Limit(refill*adaptShare), b.ceiling), minPerSecond)
	case remaining > b.limiter.Burst()/2 && limit < b.ceiling:
		limit = min(limit*1.25, b.ceiling) // ARM's bucket stays well filled: there is room
	}
	b.limiter.SetLimitAt(now, limit)
	b.windowStart, b.windowLeft, b.windowReads, b.behind = now, remaining, 0, false
}

// fallBehind notes that ARM's bucket ran lower than purgewatch's. The first time in a window the
// rate is halved at once: reads at the old rate until the window's estimate would mostly be
// throttled.
func (b *budget) fallBehind(now time.Time) {
	if !b.behind {
		b.limiter.SetLimitAt(now, max(b.limiter.Limit()/2, minPerSecond))
	}
	b.behind = true
}

// drain spends tokens until the bucket holds no more than left.
func (b *budget) drain(now time.Time, left int) {
	if extra := int(b.limiter.TokensAt(now)) - left; extra > 0 {
		b.limiter.ReserveN(now, extra)
	}
}

// budgetPolicy runs once per attempt: it waits for the subscription's budget, takes a slot of the
// global concurrency bound, teaches the budget what ARM answered, and reports the attempt to the
// Observer.
type budgetPolicy struct {
	clock    clock.Clock
	budget   Budget
	slots    chan struct{}
	observer Observer
	requests *atomic.Int64

	mu   sync.Mutex
	subs map[string]*budget
}

func newBudgetPolicy(o Options, requests *atomic.Int64) *budgetPolicy {
	return &budgetPolicy{clock: o.Clock, budget: o.Budget, slots: make(chan struct{}, o.Concurrency),
		observer: o.Observer, requests: requests, subs: map[string]*budget{}}
}

func (b *budgetPolicy) of(sub string) *budget {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.subs[sub]
	if !ok {
		s = newBudget(b.budget)
		b.subs[sub] = s
	}
	return s
}

func (b *budgetPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	sub := SubscriptionOf(req.Raw().URL.Path)
	var s *budget
	if sub != "" {
		// The bucket is read through the injected clock, so tests see the waits without sleeping.
		s = b.of(sub)
		if err := s.wait(ctx, b.clock); err != nil {
			return nil, err
		}
	}
	select {
	case b.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	resp, err := req.Next()
	<-b.slots

	b.requests.Add(1)
	status, remaining := 0, -1
	if resp != nil {
		status = resp.StatusCode
		if v, convErr := strconv.Atoi(resp.Header.Get("x-ms-ratelimit-remaining-subscription-reads")); convErr == nil {
			remaining = v
		}
	}
	if s != nil && resp != nil {
		// ARM's own throttling of the subscription's reads says so in its error code, or leaves
		// no reads; a provider's throttling of one operation does neither.
		whole := resp.Header.Get("x-ms-error-code") == "SubscriptionRequestsThrottled" || remaining == 0
		s.observe(b.clock.Now(), status, remaining, whole, RetryAfter(resp.Header, defaultRetryAfter))
	}
	if b.observer != nil {
		b.observer.Request(Operation(req.Raw().Method, req.Raw().URL.Path), status, sub, remaining)
	}
	return resp, err
}

// Wait is how long until sub can be sent a request beyond ahead already promised to it: zero
// when its budget has room now. The scanner's workers take the subscription that is ready first.
func (p *Pipeline) Wait(sub string, ahead int) time.Duration {
	if sub == "" { // not a subscription's request (Resource Graph): no budget of ours to wait on
		return 0
	}
	return p.budget.of(strings.ToLower(sub)).ready(p.opts.Clock.Now(), ahead)
}
