package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/redact"
	"github.com/purgewatch/purgewatch/internal/retryafter"
)

// Channel delivers messages to one destination.
type Channel interface {
	Name() string
	Type() string
	// MaxEvents is how many events one message may carry before the channel's size limits bite;
	// a digest with more is split.
	MaxEvents() int
	// Render builds the message as it would be sent (for `notify preview`).
	Render(m Message) (Rendered, error)
	Send(ctx context.Context, m Message) error
}

// ActiveResender is a channel whose receiver forgets what it is not told again: Alertmanager
// ends an alert at its endsAt. Such a channel is sent, once per scan, every alert still active
// (Alertmanager's integrations are asked in the same way whether they send resolved alerts).
type ActiveResender interface {
	ResendsActive() bool
}

// resendsActive reports whether ch is sent what is still active each scan.
func resendsActive(ch Channel) bool {
	r, ok := ch.(ActiveResender)
	return ok && r.ResendsActive()
}

// Message is one digest for one channel: the events of one scan, soonest purge first.
type Message struct {
	Channel string
	Events  []Event
	Now     time.Time
	// ARMEndpoint is used in the recovery requests the message shows.
	ARMEndpoint string
	// ExternalURL is where people reach purgewatch's status page (--web.external-url); "" when
	// unknown, and then messages carry no link.
	ExternalURL string
}

// Rendered is a message as bytes.
type Rendered struct {
	Subject     string
	ContentType string
	Body        []byte
}

// SendError is a failed delivery: what the destination answered, and when it asked to be tried
// again (Retry-After), if it did. Its text never holds the channel's secrets.
type SendError struct {
	Status     int
	Body       string
	RetryAfter time.Duration
	Err        error
	// Refused is set when the message itself was refused for good where no HTTP status says so:
	// an SMTP 5xx, a template that cannot render it.
	Refused bool
}

func (e *SendError) Error() string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.Body != "":
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
	}
	return fmt.Sprintf("HTTP %d", e.Status)
}

func (e *SendError) Unwrap() error { return e.Err }

// Permanent reports whether the same message can never succeed: a 4xx other than 408 (timeout)
// and 429 (throttled), or a refusal without status. 5xx and transport errors pass.
func (e *SendError) Permanent() bool {
	if e.Refused {
		return true
	}
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// retryAfter is the delay a failed send asked for, or 0.
func retryAfter(err error) time.Duration {
	var se *SendError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// unrenderable is a message the channel's template cannot render: it never will, so it is
// refused for good rather than retried.
func unrenderable(err error) error {
	return &SendError{Err: fmt.Errorf("rendering: %w", err), Refused: true}
}

// maxRedirects bounds the redirects followed on the configured host.
const maxRedirects = 3

// sameHost follows a redirect only on the host (and port) first asked, and sends no Referer: Go
// would set it to the whole previous URL, a Slack or Teams token or a webhook's secret path
// included, and on 307/308 would carry the body and its signature to wherever the receiver
// points. A redirect elsewhere is not followed; post makes it a permanent refusal.
func sameHost(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return http.ErrUseLastResponse
	}
	if first := via[0].URL; req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return http.ErrUseLastResponse
	}
	req.Header.Del("Referer")
	return nil
}

// post sends body to target and reads the answer; anything but 2xx is a *SendError. shown is how
// target may be written in the error: Go's *url.Error would print it whole, secret path,
// password and all, so it is unwrapped.
func post(ctx context.Context, client *http.Client, target, shown, contentType string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &SendError{Err: fmt.Errorf("POST %s: invalid request", shown), Refused: true}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "purgewatch")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &SendError{Err: fmt.Errorf("POST %s: %w", shown, err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &SendError{Status: resp.StatusCode, Body: strings.ToValidUTF8(string(bytes.TrimSpace(answer)), "?")}
	if resp.StatusCode/100 == 3 {
		// Not followed (another host, or too many): sending it again would be refused again.
		se.Refused, se.Body = true, "redirected to "+redirectTarget(resp)+": purgewatch follows no redirect off the configured host; configure the final URL"
		return se
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		se.RetryAfter = retryafter.Parse(resp.Header, 0)
	}
	return se
}

// redirectTarget is where a redirect pointed, as scheme://host only: its path may carry a secret.
func redirectTarget(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return "nowhere (no Location)"
	}
	return loc.Scheme + "://" + loc.Host
}

// clean masks the channel's secrets in a send's error, wherever a library put them (a receiver
// echoing its URL, an SMTP server quoting a login).
func (b base) clean(err error) error {
	if err == nil {
		return nil
	}
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Err: err}
	}
	out := *se
	out.Body = b.secrets.String(se.Body)
	if se.Err != nil {
		if msg := b.secrets.String(se.Err.Error()); msg != se.Err.Error() {
			out.Err = errors.New(msg)
		}
	}
	return &out
}

// Deps is what channels share.
type Deps struct {
	// Log is where the log channel writes (stdout).
	Log io.Writer
	// AlertLead is how far ahead an Alertmanager alert's endsAt is set while it is active.
	AlertLead time.Duration
	// Transport, when set, replaces the HTTP transport (tests).
	Transport http.RoundTripper
	// TagLabels are metrics.tagLabels: the Azure tags Alertmanager alerts carry as tag_* labels.
	TagLabels []string
}

// NewChannel builds the channel a configuration describes.
func NewChannel(c config.Channel, d Deps) (Channel, error) {
	tmpl, err := loadTemplates(c.Type, c.Template)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", c.Name, err)
	}
	client := &http.Client{Timeout: c.Timeout, Transport: d.Transport, CheckRedirect: sameHost}
	base := base{name: c.Name, typ: c.Type, tmpl: tmpl, secrets: &redact.Set{}}
	base.secrets.Replace(c.Secrets()...)
	switch c.Type {
	case config.ChannelSlack:
		return &slack{base: base, url: c.WebhookURL, client: client}, nil
	case config.ChannelTeams:
		return &teams{base: base, url: c.WebhookURL, client: client}, nil
	case config.ChannelWebhook:
		return &webhook{base: base, url: c.URL, secret: c.Secret, client: client}, nil
	case config.ChannelAlertmanager:
		return &alertmanager{base: base, urls: c.URLs, client: client, lead: d.AlertLead, tags: d.TagLabels}, nil
	case config.ChannelEmail:
		return newEmail(base, c)
	case config.ChannelLog:
		return &logChannel{base: base, w: d.Log}, nil
	}
	return nil, fmt.Errorf("channel %s: unknown type %q", c.Name, c.Type)
}

type base struct {
	name, typ string
	tmpl      *templates
	secrets   *redact.Set // the channel's own: what its errors must not show
}

func (b base) Name() string { return b.name }
func (b base) Type() string { return b.typ }
