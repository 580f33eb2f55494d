// Package arm builds the Azure Resource Manager client options every purgewatch client shares:
// credentials, the cloud or a simulator endpoint, and the policies that keep purgewatch inside
// ARM's read budget, wait out long throttling, and count every request.
package arm

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	armpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/purgewatch/purgewatch/internal/clock"
)

// Observer hears of every ARM request attempt. metrics implements it; nil is allowed.
type Observer interface {
	// Request is called once per attempt: the operation (list_galleries, ...), the HTTP status
	// (0 when no response came) and, when the response carried it, the subscription's remaining
	// read budget (-1 otherwise).
	Request(operation string, status int, subscriptionID string, remainingReads int)
	// Throttled is called for each 429 the service answers.
	Throttled(operation, subscriptionID string)
}

// Budget is a token bucket: Burst requests at once, refilled at PerSecond.
type Budget struct {
	Burst     int
	PerSecond float64
}

// Options configures a Pipeline.
type Options struct {
	Cloud    string // public | china | usgovernment
	Endpoint string // overrides the ARM endpoint, for a simulator
	// Concurrency bounds the requests in flight, in total.
	Concurrency int
	// Budget is what each subscription may be sent; zero means ReadBudget.
	Budget Budget
	// MaxThrottleWaits is how many 429s one request may wait out; zero means 5.
	MaxThrottleWaits int
	Clock            clock.Clock
	Observer         Observer
	// Transport replaces the HTTP client (the SDK's fake server, or a test's).
	Transport policy.Transporter
	// RetryDelay tunes azcore's retry of 5xx and 408 (tests set a nanosecond; not a negative
	// value, which azcore turns into its 60 s cap).
	RetryDelay time.Duration
	// MaxRetries is azcore's retry count for 5xx and 408; zero means azcore's 3, negative none.
	MaxRetries int32
	// TryTimeout bounds each attempt, body included, so that one stalled request cannot eat a
	// whole scan's deadline; zero means DefaultTryTimeout.
	TryTimeout time.Duration
	// MaxBody bounds a success body's weight (its bytes and its JSON structure); zero means
	// DefaultMaxBody.
	MaxBody int64
	// BodiesInFlight is the weight of the bodies all calls may hold at once, past one at the cap;
	// zero means DefaultBodiesInFlight.
	BodiesInFlight int64
}

// DefaultTryTimeout is far above what a healthy ARM read takes (well under a second).
const DefaultTryTimeout = 30 * time.Second

// Pipeline holds the policies shared by every client made from it, and counts what went through.
type Pipeline struct {
	opts     Options
	cloud    cloud.Configuration
	host     string // the ARM endpoint's host: no request goes anywhere else
	budget   *budgetPolicy
	throttle *throttlePolicy
	bodies   *bodyBudget
	requests atomic.Int64
}

// Counts is what a Pipeline has sent so far.
type Counts struct {
	Requests  int64
	Throttled int64
}

// New returns a Pipeline for opts.
func New(opts Options) (*Pipeline, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Budget.Burst <= 0 {
		opts.Budget = ReadBudget
	}
	if opts.MaxThrottleWaits <= 0 {
		opts.MaxThrottleWaits = 5
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.TryTimeout <= 0 {
		opts.TryTimeout = DefaultTryTimeout
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.BodiesInFlight <= 0 {
		opts.BodiesInFlight = DefaultBodiesInFlight
	}
	cc, err := cloudConfig(opts.Cloud, opts.Endpoint)
	if err != nil {
		return nil, err
	}
	host, err := endpointHost(cc.Services[cloud.ResourceManager].Endpoint)
	if err != nil {
		return nil, err
	}
	opts.Transport = newLimitTransport(opts.Transport, opts.MaxBody, opts.Concurrency)
	p := &Pipeline{opts: opts, cloud: cc, host: host, bodies: newBodyBudget(opts.BodiesInFlight)}
	p.budget = newBudgetPolicy(opts, &p.requests)
	p.throttle = &throttlePolicy{clock: opts.Clock, maxWaits: opts.MaxThrottleWaits, observer: opts.Observer}
	return p, nil
}

// Counts returns the requests and 429s seen so far.
func (p *Pipeline) Counts() Counts {
	return Counts{Requests: p.requests.Load(), Throttled: p.throttle.throttled.Load()}
}

// ClientOptions returns options for any arm* client. Every client made with them shares this
// Pipeline's budget, concurrency bound and counters.
func (p *Pipeline) ClientOptions() *armpolicy.ClientOptions {
	o := &armpolicy.ClientOptions{
		// A read-only identity cannot register resource providers, and must not try.
		DisableRPRegistration: true,
		ClientOptions: azcore.ClientOptions{
			Cloud:     p.cloud,
			Transport: p.opts.Transport,
			// The host check runs per call, before azcore's bearer-token policy (per retry).
			PerCallPolicies:  []policy.Policy{answerPolicy{budget: p.bodies}, hostPolicy{host: p.host}, p.throttle},
			PerRetryPolicies: []policy.Policy{p.budget},
			Retry: policy.RetryOptions{
				MaxRetries: p.opts.MaxRetries,
				RetryDelay: p.opts.RetryDelay,
				TryTimeout: p.opts.TryTimeout,
				// 429 is left out: throttlePolicy waits for any Retry-After, where azcore gives up
				// on one longer than its 60 s cap.
				StatusCodes: []int{http.StatusRequestTimeout, http.StatusInternalServerError,
					http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
			},
		},
	}
	return o
}

// Endpoint is the ARM base URL every request goes to.
func (p *Pipeline) Endpoint() string { return p.cloud.Services[cloud.ResourceManager].Endpoint }

// TokenScope is the scope ARM tokens are asked for, as azcore's arm pipeline asks.
func (p *Pipeline) TokenScope() string {
	scope := p.cloud.Services[cloud.ResourceManager].Audience
	if !strings.HasSuffix(scope, "/.default") {
		scope += "/.default"
	}
	return scope
}

func cloudConfig(name, endpoint string) (cloud.Configuration, error) {
	var c cloud.Configuration
	switch name {
	case "", "public":
		c = cloud.AzurePublic
	case "china":
		c = cloud.AzureChina
	case "usgovernment":
		c = cloud.AzureGovernment
	default:
		return c, fmt.Errorf("unknown Azure cloud %q", name)
	}
	if endpoint != "" {
		rm := c.Services[cloud.ResourceManager]
		rm.Endpoint = endpoint
		c.Services = map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: rm}
	}
	return c, nil
}

// Endpoint is the ARM base URL for a cloud, or the override when one is set.
func Endpoint(cloudName, override string) string {
	if override != "" {
		return override
	}
	c, err := cloudConfig(cloudName, "")
	if err != nil {
		return ""
	}
	return c.Services[cloud.ResourceManager].Endpoint
}
