package scanner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/purgewatch/purgewatch/internal/arm"
)

// Reason classifies a failed scope for metrics and alerting.
type Reason string

const (
	ReasonThrottled   Reason = "throttled"
	ReasonForbidden   Reason = "forbidden"
	ReasonNotFound    Reason = "not_found"
	ReasonServerError Reason = "server_error"
	ReasonTimeout     Reason = "timeout"
	ReasonBadResponse Reason = "bad_response"
)

// Reasons lists every Reason, for metrics that start at zero.
var Reasons = []Reason{ReasonThrottled, ReasonForbidden, ReasonNotFound, ReasonServerError, ReasonTimeout, ReasonBadResponse}

// errNoSubscription: the identity can list subscriptions, but none are left to scan.
var errNoSubscription = errors.New("no subscription to scan: the identity lists none, or all are disabled or excluded")

// errCredential: the credential gave no token (no identity found, or Entra ID refused it).
var errCredential = errors.New("getting a token for Azure Resource Manager")

// maxMessage bounds the message kept from a failure: enough for ARM's and Entra ID's texts.
const maxMessage = 1024

// scopeError describes why scope could not be read, with the service's own code and message
// where it sent them. ctx is the scan's: a deadline that passed on it is the scan's, any other is
// one request's own timeout.
func scopeError(ctx context.Context, scope string, err error) ScopeError {
	e := ScopeError{Scope: scope, Message: err.Error()}
	var re *azcore.ResponseError
	var br badResponseError
	var bad undecodable
	var authFailed *azidentity.AuthenticationFailedError
	switch {
	case errors.As(err, &br), errors.As(err, &bad), errors.Is(err, arm.ErrForeignHost), errors.Is(err, arm.ErrBodyTooLarge):
		e.Code, e.Reason = "BadResponse", ReasonBadResponse
	case errors.As(err, &authFailed):
		e.Code, e.Message = entraError(authFailed)
		e.Reason = ReasonForbidden
	case errors.Is(err, errCredential):
		e.Code, e.Reason = "CredentialUnavailable", ReasonForbidden
	case errors.As(err, &re) && re.StatusCode/100 == 3:
		e.Code, e.Reason = "Redirected", ReasonBadResponse
		e.Message = fmt.Sprintf("answered HTTP %d, pointing elsewhere: purgewatch follows no redirect from ARM (a proxy in the way, or not ARM?)", re.StatusCode)
	case errors.As(err, &re):
		e.Code, e.Message = serviceError(re)
		e.Reason = reasonFor(re.StatusCode)
	case errors.Is(err, arm.ErrBudgetPaused):
		e.Code, e.Reason = "SubscriptionRequestsThrottled", ReasonThrottled
	case errors.Is(err, errNoSubscription):
		e.Code, e.Reason = "NoSubscription", ReasonNotFound
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		e.Code, e.Reason, e.Message = "Timeout", ReasonTimeout, "the scan's deadline passed before this scope was read"
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		e.Code, e.Reason, e.Message = "Canceled", ReasonTimeout, "the scan was cancelled before this scope was read"
	case errors.Is(err, context.DeadlineExceeded):
		e.Code, e.Reason, e.Message = "Timeout", ReasonTimeout, "a request got no whole answer within azure.requestTimeout, on every try"
	case isNetTimeout(err):
		e.Code, e.Reason = "Timeout", ReasonTimeout
	default:
		// A connection refused or reset: the service did not answer as a service.
		e.Code, e.Reason = "RequestFailed", ReasonServerError
	}
	e.Message = clip(e.Message)
	return e
}

// clip keeps a message to maxMessage bytes, cut at a rune boundary.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " …"
}

// entraError pulls Entra ID's {"error","error_description"} out of a failed token request.
func entraError(err *azidentity.AuthenticationFailedError) (code, message string) {
	code, message = "AuthenticationFailed", err.Error()
	if err.RawResponse == nil || err.RawResponse.Body == nil {
		return code, message
	}
	body, _ := io.ReadAll(io.LimitReader(err.RawResponse.Body, arm.MaxErrorBody))
	var env struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &env) == nil && env.Description != "" {
		message = env.Description
		if env.Error != "" {
			code = env.Error
		}
	}
	return code, message
}

// Advice says what an operator can do about a failure, in a sentence: the status page, stderr and
// the scan-failing notification all show it.
func (e ScopeError) Advice() string {
	switch {
	case e.Scope == RootScope && e.Reason == ReasonForbidden:
		return "Check purgewatch's Azure credential: azure.auth, the AZURE_* variables, or the workload identity's federation; `az login` for azure-cli."
	case e.Code == "NoSubscription":
		return "Give the identity Reader on the subscriptions to watch, or check azure.subscriptions and azure.excludeSubscriptions."
	case e.Reason == ReasonForbidden:
		return "Give the identity Reader (or the purgewatch-reader role in deploy/azure) on this scope."
	case e.Reason == ReasonThrottled:
		return "ARM throttled the reads: lower azure.concurrency, or scan less often."
	case e.Reason == ReasonTimeout:
		return "Raise scan.timeout or azure.requestTimeout if the estate is large; otherwise check the network path to ARM."
	case e.Reason == ReasonBadResponse:
		return "The service sent something purgewatch cannot trust; the last good data is kept. Retried on the next scan."
	case e.Reason == ReasonNotFound:
		return "The scope was deleted or moved during the scan; it clears on the next scan if so."
	}
	return "Retried on the next scan; the last good data is kept meanwhile."
}

func reasonFor(status int) Reason {
	switch {
	case status == http.StatusTooManyRequests:
		return ReasonThrottled
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ReasonForbidden
	case status == http.StatusNotFound:
		return ReasonNotFound
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return ReasonTimeout
	case status >= 500:
		return ReasonServerError
	}
	return ReasonBadResponse
}

// serviceError pulls ARM's {"error":{"code","message"}} out of a failed response.
func serviceError(re *azcore.ResponseError) (code, message string) {
	code = re.ErrorCode
	message = http.StatusText(re.StatusCode)
	if re.RawResponse != nil && re.RawResponse.Body != nil {
		body, _ := io.ReadAll(io.LimitReader(re.RawResponse.Body, arm.MaxErrorBody))
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		switch {
		case json.Unmarshal(body, &env) == nil && env.Error.Message != "":
			message = env.Error.Message
			if code == "" {
				code = env.Error.Code
			}
		case len(bytes.TrimSpace(body)) > 0:
			// Not ARM's shape (a proxy's page, say): show its start, on one line.
			message += ": " + strings.Join(strings.Fields(string(body[:min(len(body), 200)])), " ")
		}
	}
	if code == "" {
		code = "HTTP" + strconv.Itoa(re.StatusCode)
	}
	return code, message
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// undecodable is a call that failed after its answer arrived whole with a success status: the
// SDK could not decode the body. Its text is the SDK's own.
type undecodable struct{ err error }

func (e undecodable) Error() string { return e.err.Error() }
func (e undecodable) Unwrap() error { return e.err }

// call makes one ARM request and hands its answer to use, marking a failure on a whole success
// answer as undecodable. The body's share of the bodies-in-flight budget is held until use
// returns: the decoded page is what costs memory, so use takes what it needs and does no I/O.
func call[T any](ctx context.Context, do func(context.Context) (T, error), use func(T) error) error {
	var a arm.Answer
	defer a.Done()
	v, err := do(arm.WithAnswer(ctx, &a))
	if err != nil {
		if a.Whole() {
			err = undecodable{err}
		}
		return err
	}
	return use(v)
}

// badResponseError is an answer purgewatch refuses: it decoded, but cannot be true.
type badResponseError string

func (e badResponseError) Error() string { return string(e) }

// refusals gathers a listing's entries refused as bad responses, by the scope each fails, so that
// a page of a hundred thousand broken entries is one scope error with its count, not a hundred
// thousand errors and log lines.
type refusals struct {
	order []string
	first map[string]error
	more  map[string]int
}

func (f *refusals) add(scope string, err error) {
	if f.first == nil {
		f.first, f.more = map[string]error{}, map[string]int{}
	}
	if _, ok := f.first[scope]; ok {
		f.more[scope]++
		return
	}
	f.order = append(f.order, scope)
	f.first[scope] = err
}

// report fails each scope once, with the first refusal and how many followed it.
func (f *refusals) report(ctx context.Context, r *run, sub string) {
	for _, scope := range f.order {
		err := f.first[scope]
		if n := f.more[scope]; n > 0 {
			err = fmt.Errorf("%w (and %d more entries refused in the same listing)", err, n)
		}
		r.fail(ctx, sub, scope, err)
	}
}
