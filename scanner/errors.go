package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
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

// scopeError describes why scope could not be read, with the service's own code and message
// where it sent them.
func scopeError(scope string, err error) ScopeError {
	e := ScopeError{Scope: scope, Message: err.Error()}
	var re *azcore.ResponseError
	var br badResponseError
	switch {
	case errors.As(err, &br):
		e.Code, e.Reason = "BadResponse", ReasonBadResponse
	case errors.As(err, &re):
		e.Code, e.Message = serviceError(re)
		e.Reason = reasonFor(re.StatusCode)
	case errors.Is(err, context.DeadlineExceeded):
		e.Code, e.Reason, e.Message = "Timeout", ReasonTimeout, "the scan's deadline passed before this scope was read"
	case errors.Is(err, context.Canceled):
		e.Code, e.Reason, e.Message = "Canceled", ReasonTimeout, "the scan was cancelled before this scope was read"
	case isNetTimeout(err):
		e.Code, e.Reason = "Timeout", ReasonTimeout
	case isDecodeError(err):
		e.Code, e.Reason = "BadResponse", ReasonBadResponse
	default:
		// A connection refused or reset: the service did not answer as a service.
		e.Code, e.Reason = "RequestFailed", ReasonServerError
	}
	return e
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
		body, _ := io.ReadAll(io.LimitReader(re.RawResponse.Body, 64<<10))
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &env) == nil && env.Error.Message != "" {
			message = env.Error.Message
			if code == "" {
				code = env.Error.Code
			}
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

func isDecodeError(err error) bool {
	var se *json.SyntaxError
	var ue *json.UnmarshalTypeError
	return errors.As(err, &se) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "unmarshalling type") || strings.Contains(err.Error(), "invalid character")
}
