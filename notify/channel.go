package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/config"
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

// Message is one digest for one channel: the events of one scan, soonest purge first.
type Message struct {
	Channel string
	Events  []Event
	Now     time.Time
	// ARMEndpoint is used in the recovery requests the message shows.
	ARMEndpoint string
}

// Rendered is a message as bytes.
type Rendered struct {
	Subject     string
	ContentType string
	Body        []byte
}

// SendError is a failed delivery: what the destination answered, and when it asked to be tried
// again (Retry-After), if it did.
type SendError struct {
	Status     int
	Body       string
	RetryAfter time.Duration
	Err        error
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

// retryAfter is the delay a failed send asked for, or 0.
func retryAfter(err error) time.Duration {
	var se *SendError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// post sends body and reads the answer; anything but 2xx is a *SendError.
func post(ctx context.Context, client *http.Client, url, contentType string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &SendError{Err: err}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "purgewatch")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return &SendError{Err: fmt.Errorf("POST %s: %w", redact(url), err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &SendError{Status: resp.StatusCode, Body: string(bytes.TrimSpace(answer))}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		se.RetryAfter = arm.RetryAfter(resp.Header, 0)
	}
	return se
}

// redact keeps a webhook URL's secret path out of logs and errors.
func redact(url string) string {
	if i := bytes.IndexByte([]byte(url), '/'); i >= 0 {
		rest := url[i:]
		if j := bytes.IndexByte([]byte(rest[2:]), '/'); j >= 0 && len(rest) > 2 {
			return url[:i+2+j] + "/…"
		}
	}
	return url
}

// Deps is what channels share.
type Deps struct {
	// Log is where the log channel writes (stdout).
	Log io.Writer
	// AlertLead is how far ahead an Alertmanager alert's endsAt is set while it is active.
	AlertLead time.Duration
	// Transport, when set, replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// NewChannel builds the channel a configuration describes.
func NewChannel(c config.Channel, d Deps) (Channel, error) {
	tmpl, err := loadTemplates(c.Type, c.Template)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", c.Name, err)
	}
	client := &http.Client{Timeout: c.Timeout, Transport: d.Transport}
	base := base{name: c.Name, typ: c.Type, tmpl: tmpl}
	switch c.Type {
	case config.ChannelSlack:
		return &slack{base: base, url: c.WebhookURL, client: client}, nil
	case config.ChannelTeams:
		return &teams{base: base, url: c.WebhookURL, client: client}, nil
	case config.ChannelWebhook:
		return &webhook{base: base, url: c.URL, secret: c.Secret, client: client}, nil
	case config.ChannelAlertmanager:
		return &alertmanager{base: base, urls: c.URLs, client: client, lead: d.AlertLead}, nil
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
}

func (b base) Name() string { return b.name }
func (b base) Type() string { return b.typ }
