package arm

import (
	"context"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// An Answer is one call's reply as the pipeline saw it: whether it came back whole, and the share
// of the bodies-in-flight budget its body holds until Done.
//
// The SDK reports a success body it cannot decode as an error that says so only in words (it
// formats the JSON error with %s, so neither json.SyntaxError nor any other type survives). A
// call that fails after its Answer is Whole failed on the body itself: that is how a caller knows
// a bad response by where it happened, not by matching the text of the error.
//
// The share is held past the call because the SDK decodes the body after the pipeline returns,
// and the decoded page is what costs memory: a caller keeps it until it has taken what it needs
// from the page, then calls Done. A call made without an Answer gives its share back as soon as
// its body is read.
type Answer struct {
	whole bool

	mu     sync.Mutex
	budget *bodyBudget
	shared int64 // taken from the budget's shared part
	lane   bool  // holds the budget's lane
}

// Whole says the reply arrived in full with a 2xx status.
func (a *Answer) Whole() bool { return a.whole }

// Done gives back the answer's share of the bodies-in-flight budget. It may be called more than
// once, and on an Answer no call used.
func (a *Answer) Done() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.budget == nil {
		return
	}
	a.budget.give(a.shared, a.lane)
	a.shared, a.lane = 0, false
}

// take reserves n more weight of body for this answer, waiting for the lane when the shared part
// is spent. It fails only when ctx ends first.
func (a *Answer) take(ctx context.Context, n int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.budget == nil || a.lane { // the lane covers a whole body; the cap bounds it
		return nil
	}
	if a.budget.tryShared(n) {
		a.shared += n
		return nil
	}
	if err := a.budget.waitLane(ctx); err != nil {
		return err
	}
	a.lane = true
	return nil
}

type answerKey struct{}

// WithAnswer returns ctx carrying a, which the pipeline fills in for the call made with it.
func WithAnswer(ctx context.Context, a *Answer) context.Context {
	return context.WithValue(ctx, answerKey{}, a)
}

func answerFrom(ctx context.Context) *Answer {
	a, _ := ctx.Value(answerKey{}).(*Answer)
	return a
}

// answerPolicy runs per call, after every retry and the body's download (both run below it).
type answerPolicy struct{ budget *bodyBudget }

func (p answerPolicy) Do(req *policy.Request) (*http.Response, error) {
	a := answerFrom(req.Raw().Context())
	if a == nil {
		a = &Answer{}
		defer a.Done()
		req = req.Clone(WithAnswer(req.Raw().Context(), a))
	}
	a.mu.Lock()
	a.budget = p.budget
	a.mu.Unlock()
	resp, err := req.Next()
	a.whole = err == nil && resp != nil && resp.StatusCode >= 200 && resp.StatusCode < 300
	return resp, err
}
