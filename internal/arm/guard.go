package arm

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Errors a hostile or broken service provokes; the scanner reports both as a bad response.
var (
	// ErrForeignHost: a request (a nextLink, a polling URL) points away from the ARM endpoint.
	ErrForeignHost = errors.New("refusing a request to a host other than the ARM endpoint")
	// ErrBodyTooLarge: a success body that weighs more than Options.MaxBody (its bytes, and
	// what its JSON structure costs to decode).
	ErrBodyTooLarge = errors.New("response body larger than the limit (or as dense in JSON structure)")
)

// MaxErrorBody is how much of an error body is read: enough for ARM's {"error":{...}}.
const MaxErrorBody = 4 << 10

// hostPolicy refuses any request whose host is not the ARM endpoint's, before the bearer-token
// policy can attach a token to it: a nextLink or polling URL must never carry the token elsewhere.
type hostPolicy struct{ host string }

func (h hostPolicy) Do(req *policy.Request) (*http.Response, error) {
	if got := req.Raw().URL.Host; !strings.EqualFold(got, h.host) {
		return nil, fmt.Errorf("%w: %s (the endpoint is %s)", ErrForeignHost, got, h.host)
	}
	return req.Next()
}

func endpointHost(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("ARM endpoint %q is not an absolute URL", endpoint)
	}
	return u.Host, nil
}

// limitTransport bounds every response body as it is read: an error body is cut at MaxErrorBody,
// a success body past maxBody fails with ErrBodyTooLarge, and a success body read for a call
// with an Answer takes its weight from the bodies-in-flight budget as it arrives. The SDK reads
// bodies inside its pipeline, so the bound has to sit here, below it.
type limitTransport struct {
	next    policy.Transporter
	maxBody int64
}

func newLimitTransport(next policy.Transporter, maxBody int64, concurrency int) limitTransport {
	if next == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		// One idle connection kept per request in flight: with Go's default of two per host, a
		// scan at concurrency 64 opened 15,095 connections for 55,500 requests, each a TLS
		// handshake against ARM, where one per worker does.
		t.MaxIdleConnsPerHost = concurrency
		t.MaxIdleConns = max(t.MaxIdleConns, 2*concurrency)
		// ARM answers reads itself: a redirect (to another host or port, a captive proxy, a
		// hostile endpoint) is not followed, and its 3xx is the answer, never taken as a listing.
		next = &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return limitTransport{next: next, maxBody: maxBody}
}

func (l limitTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := l.next.Do(req)
	if err != nil || resp == nil || resp.Body == nil {
		return resp, err
	}
	if resp.StatusCode >= http.StatusBadRequest {
		resp.Body = readCloser{io.LimitReader(resp.Body, MaxErrorBody), resp.Body}
	} else {
		resp.Body = &capped{rc: resp.Body, left: l.maxBody, ctx: req.Context(), answer: answerFrom(req.Context())}
	}
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// capped fails a read that would take the body's weight past the limit, rather than truncating
// silently into JSON that might still parse; and takes each read's weight from the budget before
// handing it on.
type capped struct {
	rc     io.ReadCloser
	left   int64
	ctx    context.Context
	answer *Answer // nil: the body is bounded, not budgeted
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := c.rc.Read(one[:])
		if n > 0 {
			return 0, ErrBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	w := Weigh(p[:n])
	if w > c.left {
		return 0, ErrBodyTooLarge
	}
	c.left -= w
	if c.answer != nil && n > 0 {
		if werr := c.answer.take(c.ctx, w); werr != nil {
			return 0, werr
		}
	}
	return n, err
}

func (c *capped) Close() error { return c.rc.Close() }
