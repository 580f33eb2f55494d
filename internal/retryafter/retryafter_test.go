package retryafter

import (
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	cases := []struct {
		h    http.Header
		want time.Duration
	}{
		{h("Retry-After", "120"), 120 * time.Second},
		{h("Retry-After-Ms", "1500", "Retry-After", "9"), 1500 * time.Millisecond},
		{h("x-ms-retry-after-ms", "250"), 250 * time.Millisecond},
		{h(), 10 * time.Second},
		{h("Retry-After", "soon"), 10 * time.Second},
		// Absurd asks are bounded, not overflowed: ten years, a date in 9999, a huge ms count.
		{h("Retry-After", "315360000"), Most},
		{h("Retry-After", "99999999999999999"), Most},
		{h("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), Most},
		{h("Retry-After-Ms", "9223372036854775807"), Most},
	}
	for _, tc := range cases {
		if got := Parse(tc.h, 10*time.Second); got != tc.want {
			t.Errorf("Parse(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
