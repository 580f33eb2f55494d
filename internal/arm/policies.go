package arm

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/retryafter"
)

// throttlePolicy waits out 429s for as long as Retry-After asks, up to maxWaits times and never
// past the context's deadline, where azcore's own retry gives up on anything over 60 s.
type throttlePolicy struct {
	clock     clock.Clock
	maxWaits  int
	observer  Observer
	throttled atomic.Int64
}

// defaultRetryAfter is used when a 429 names no delay.
const defaultRetryAfter = 10 * time.Second

func (t *throttlePolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	for waits := 0; ; waits++ {
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		resp, err := req.Clone(ctx).Next()
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		t.throttled.Add(1)
		if t.observer != nil {
			t.observer.Throttled(Operation(req.Raw().Method, req.Raw().URL.Path), SubscriptionOf(req.Raw().URL.Path))
		}
		wait := RetryAfter(resp.Header, defaultRetryAfter)
		if waits >= t.maxWaits || pastDeadline(ctx, t.clock.Now().Add(wait)) {
			return resp, nil // the caller sees the 429 and records the scope as throttled
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err := t.clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func pastDeadline(ctx context.Context, t time.Time) bool {
	d, ok := ctx.Deadline()
	return ok && t.After(d)
}

// RetryAfter reads the delay a throttled response asks for (see retryafter.Parse).
func RetryAfter(h http.Header, fallback time.Duration) time.Duration {
	return retryafter.Parse(h, fallback)
}

// SubscriptionOf returns the subscription ID a request path is under, lower-cased, or "".
func SubscriptionOf(path string) string {
	const prefix = "/subscriptions/"
	if len(path) <= len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return ""
	}
	rest := path[len(prefix):]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return strings.ToLower(rest)
}

// Operation names what a request does, for metrics: a small fixed set, never an unbounded label.
func Operation(method, path string) string {
	segs := strings.Split(strings.Trim(strings.ToLower(path), "/"), "/")
	n := len(segs)
	last := func(i int) string { // the i-th segment from the end, 1-based
		if n-i < 0 {
			return ""
		}
		return segs[n-i]
	}
	switch {
	case n == 1 && segs[0] == "subscriptions":
		return "list_subscriptions"
	case n == 3 && segs[1] == "microsoft.resourcegraph" && segs[2] == "resources":
		return "query_resource_graph"
	case last(1) == "versions" && last(5) == "softdeletedartifacttypes":
		return "list_soft_deleted_versions"
	case last(2) == "versions" && last(6) == "softdeletedartifacttypes":
		return verb(method, "soft_deleted_version")
	case last(1) == "galleries":
		return "list_galleries"
	case last(1) == "images" && last(3) == "galleries":
		return "list_images"
	case last(2) == "versions" && last(4) == "images":
		return verb(method, "version")
	case last(1) == "versions" && last(3) == "images":
		return "list_versions"
	case last(1) == "virtualmachines":
		return "list_vms"
	case last(1) == "virtualmachinescalesets":
		return "list_vmss"
	case last(1) == "values" && last(3) == "eventtypes":
		return "list_activity_log"
	case last(2) == "capsoperations" || last(2) == "operations":
		return "poll_operation"
	}
	return strings.ToLower(method) + "_other"
}

func verb(method, noun string) string {
	switch method {
	case http.MethodGet:
		return "get_" + noun
	case http.MethodPatch:
		return "update_" + noun
	case http.MethodPut:
		return "put_" + noun
	case http.MethodDelete:
		return "delete_" + noun
	}
	return strings.ToLower(method) + "_" + noun
}
