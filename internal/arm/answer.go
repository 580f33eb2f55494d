package arm

import (
	"context"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// An Answer records whether the reply to one call came back whole, with a success status.
//
// The SDK reports a success body it cannot decode as an error that says so only in words (it
// formats the JSON error with %s, so neither json.SyntaxError nor any other type survives). A
// call that fails after its Answer is Whole failed on the body itself: that is how a caller knows
// a bad response by where it happened, not by matching the text of the error.
type Answer struct{ whole bool }

// Whole says the reply arrived in full with a 2xx status.
func (a *Answer) Whole() bool { return a.whole }

type answerKey struct{}

// WithAnswer returns ctx carrying a, which the pipeline fills in for the call made with it.
func WithAnswer(ctx context.Context, a *Answer) context.Context {
	return context.WithValue(ctx, answerKey{}, a)
}

// answerPolicy runs per call, after every retry and the body's download (both run below it).
type answerPolicy struct{}

func (answerPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if a, ok := req.Raw().Context().Value(answerKey{}).(*Answer); ok {
		a.whole = err == nil && resp != nil && resp.StatusCode >= 200 && resp.StatusCode < 300
	}
	return resp, err
}
