// Package retryafter reads how long a throttled or busy service asks to be left alone: ARM, and
// the receivers notifications go to, speak the same headers.
package retryafter

import (
	"net/http"
	"strconv"
	"time"
)

// Parse reads the delay a throttled response asks for, in the headers azcore honours:
// Retry-After-Ms, x-ms-retry-after-ms, Retry-After in seconds or as a date; fallback otherwise.
func Parse(h http.Header, fallback time.Duration) time.Duration {
	for _, name := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if ms, err := strconv.ParseInt(h.Get(name), 10, 64); err == nil && ms >= 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := h.Get("Retry-After")
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := time.Until(at); d > 0 {
			return d
		}
		return 0
	}
	return fallback
}
