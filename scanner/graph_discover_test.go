package scanner

import (
	"testing"
	"time"
)

// The places of a million bins spread over the period, in order, none outside it: the product
// of rows and nanoseconds would overflow an int64.
func TestPlacesSpreadOverThePeriod(t *testing.T) {
	every := 6 * time.Hour
	prev := time.Duration(-1)
	for _, c := range []struct{ k, total int }{{0, 1_000_000}, {500_000, 1_000_000}, {999_999, 1_000_000}, {10, 3}, {5, 0}} {
		got := place(c.k, c.total, every)
		if got < 0 || got > every || (c.total == 1_000_000 && got <= prev) {
			t.Errorf("place(%d, %d) = %v", c.k, c.total, got)
		}
		if c.total == 1_000_000 {
			prev = got
		}
	}
	if got := place(500_000, 1_000_000, every); got != 3*time.Hour {
		t.Errorf("the middle row's place = %v, want 3h", got)
	}
}
