// Package retryafter reads how long a throttled or busy service asks to be left alone: ARM, and
// the receivers notifications go to, speak the same headers.
package retryafter

import (
	"net/http"
	"strconv"
	"time"
)

// Most is the longest delay Parse returns: no service's throttling window is a day long, and a
// larger number (ten years, a date in 9999) would overflow the arithmetic of time or park the
// caller for good. Callers bound it further by what they are doing (a scan's deadline,
// notify.retry.max).
const Most = 24 * time.Hour

// Parse reads the delay a throttled response asks for, in the headers azcore honours:
// Retry-After-Ms, x-ms-retry-after-ms, Retry-After in seconds or as a date; fallback otherwise.
// It is never more than Most.
func Parse(h http.Header, fallback time.Duration) time.Duration {
	for _, name := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if ms, err := strconv.ParseInt(h.Get(name), 10, 64); err == nil && ms >= 0 {
			return time.Duration(min(ms, Most.Milliseconds())) * time.Millisecond
		}
	}
	v := h.Get("Retry-After")
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		return time.Duration(min(s, int64(Most/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(at), 0), Most)
	}
	return min(fallback, Most)
}
