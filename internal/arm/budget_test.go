package arm

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/purgewatch/purgewatch/internal/clock"
)

// simulation is one subscription's reads through purgewatch's budget (ours) to ARM's own bucket
// (theirs), on a fake clock.
type simulation struct {
	c      *clock.Fake
	ours   *budget
	theirs *rate.Limiter
}

func newSimulation(arm Budget) *simulation {
	return &simulation{c: clock.NewFake(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)), ours: newBudget(ReadBudget),
		theirs: rate.NewLimiter(rate.Limit(arm.PerSecond), arm.Burst)}
}

// spend sends n reads as the scanner's workers do: up to 64 at once, each counted by ARM and
// answered latency after it leaves, a 429 sent again once the budget lets it. It returns how many
// 429s ARM answered and how long the reads took.
func (s *simulation) spend(t *testing.T, n int, latency time.Duration) (throttled int, took time.Duration) {
	t.Helper()
	const inFlight = 64
	start := s.c.Now()
	var flights []time.Time // when each read in flight reaches ARM and is answered, in order
	answer := func() {
		at := flights[0]
		flights = flights[1:]
		if !s.theirs.AllowN(at, 1) {
			throttled++
			retry := time.Duration(math.Ceil((1-s.theirs.TokensAt(at))/float64(s.theirs.Limit()))) * time.Second
			s.ours.observe(at, http.StatusTooManyRequests, 0, true, retry)
			return
		}
		s.ours.observe(at, http.StatusOK, int(s.theirs.TokensAt(at)), false, 0)
		n--
	}
	for n > 0 {
		for len(flights) > 0 && !flights[0].After(s.c.Now()) {
			answer()
		}
		if n == 0 {
			break
		}
		if len(flights) >= min(inFlight, n) { // every worker waits on an answer
			s.c.Set(flights[0])
			continue
		}
		if err := s.ours.wait(context.Background(), s.c); err != nil {
			t.Fatal(err)
		}
		flights = append(flights, s.c.Now().Add(latency))
	}
	return throttled, s.c.Now().Sub(start)
}

func spend(t *testing.T, arm Budget, n int, latency time.Duration) (int, time.Duration) {
	return newSimulation(arm).spend(t, n, latency)
}

// floor is the least time n reads take within a budget: the burst at once, the rest at its rate.
func floor(b Budget, n int) time.Duration {
	return time.Duration(float64(n-b.Burst) / b.PerSecond * float64(time.Second))
}

// At ARM's own budget purgewatch stays a little inside it: no 429 at all, and within 5 % of the
// floor the budget sets.
func TestTheDefaultBudgetIsNeverThrottled(t *testing.T) {
	throttled, took := spend(t, ReadBudget, 1012, 20*time.Millisecond)
	if throttled != 0 {
		t.Errorf("%d reads throttled at ARM's own budget", throttled)
	}
	if ratio := took.Seconds() / floor(ReadBudget, 1012).Seconds(); ratio > 1.05 {
		t.Errorf("took %v, %.2f × the floor", took, ratio)
	}
}

// When others spend the same budget (ARM refills 12 reads a second, not 25), purgewatch learns it
// from ARM's remaining-reads header: at most 2 % of reads throttled, and within 10 % of the floor.
func TestASharedBudgetIsLearnedFromARMsHeader(t *testing.T) {
	shared := Budget{Burst: 250, PerSecond: 12}
	throttled, took := spend(t, shared, 1012, 20*time.Millisecond)
	if share := float64(throttled) / 1012; share > 0.02 {
		t.Errorf("%d of 1012 reads throttled (%.1f %%)", throttled, 100*share)
	}
	if ratio := took.Seconds() / floor(shared, 1012).Seconds(); ratio > 1.1 {
		t.Errorf("took %v, %.2f × the floor of %v", took, ratio, floor(shared, 1012))
	}
	t.Logf("12 reads/s: %d throttled, %v (floor %v)", throttled, took, floor(shared, 1012))
}

// Once the others stop sharing it, purgewatch finds the whole budget again: ARM's bucket fills,
// and the rate climbs back to its ceiling.
func TestARecoveredBudgetIsUsedAgain(t *testing.T) {
	s := newSimulation(Budget{Burst: 250, PerSecond: 12})
	s.spend(t, 1012, 20*time.Millisecond)
	s.theirs.SetLimitAt(s.c.Now(), rate.Limit(ReadBudget.PerSecond))
	s.spend(t, 500, 20*time.Millisecond) // the rate climbs
	throttled, took := s.spend(t, 1000, 20*time.Millisecond)
	if perSecond := 1000 / took.Seconds(); throttled != 0 || perSecond < 0.95*ReadBudget.PerSecond*(1-margin) {
		t.Errorf("after the budget recovered: %.1f reads a second, %d throttled", perSecond, throttled)
	}
}

// A 429 asking ARM's reads to pause for ten years pauses them five minutes: a hostile or broken
// answer cannot stop a subscription's scans for good.
func TestAnAbsurdPauseIsBounded(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	b := newBudget(ReadBudget)
	b.observe(now, http.StatusTooManyRequests, 0, true, 315360000*time.Second)
	if wait := b.ready(now, 0); wait > maxPause {
		t.Errorf("paused for %v, want at most %v", wait, maxPause)
	}
	if wait := b.ready(now.Add(maxPause), 0); wait > time.Second {
		t.Errorf("still paused %v after %v", wait, maxPause)
	}
}
