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
	}
	for _, tc := range cases {
		if got := Parse(tc.h, 10*time.Second); got != tc.want {
			t.Errorf("Parse(%v) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
