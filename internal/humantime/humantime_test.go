package humantime

import (
	"testing"
	"time"
)

func TestLeft(t *testing.T) {
	for d, want := range map[time.Duration]string{
		3*time.Hour + 12*time.Minute + 40*time.Second: "3h 12m",
		-20*time.Minute - 10*time.Second:              "overdue 20m",
		2*24*time.Hour + 4*time.Hour + 59*time.Minute: "2d 4h",
		12 * time.Minute:               "12m",
		45 * time.Second:               "45s",
		0:                              "0s",
		30*24*time.Hour + 11*time.Hour: "30d 11h",
	} {
		if got := Left(d); got != want {
			t.Errorf("Left(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 events", 1: "1 event", 2: "2 events"} {
		if got := Count(n, "event"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{260 << 30: "260 GiB", 1536 << 30: "1.5 TiB", 900 << 20: "900 MiB", 0: "0 B", 5 << 30: "5 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
