// Package humantime writes durations and counts the way a person on call reads them: "3h 12m",
// "overdue 20m", "1 event".
package humantime

import (
	"fmt"
	"strconv"
	"time"
)

// Left is the time left until a deadline d away; negative d is "overdue".
func Left(d time.Duration) string {
	if d < 0 {
		return "overdue " + Short(-d)
	}
	return Short(d)
}

// Short writes d in its two largest units: "2d 4h", "3h 12m", "12m", "45s".
func Short(d time.Duration) string {
	d = d.Round(time.Second)
	days, hours := int(d/(24*time.Hour)), int(d/time.Hour)%24
	mins, secs := int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case mins > 0:
		return fmt.Sprintf("%dm", mins)
	}
	return fmt.Sprintf("%ds", secs)
}

// Count writes n of a noun as people do: "1 event", "3 events".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Bytes is a size as a person reads it, in binary units: "260 GiB", "1.5 TiB", "900 MiB".
func Bytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f, i = f/1024, i+1
	}
	if f >= 10 || f == float64(int64(f)) {
		return fmt.Sprintf("%.0f %s", f, units[i])
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
