package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/purgewatch/purgewatch/internal/redact"
	"github.com/purgewatch/purgewatch/scanner"
)

// SignatureHeader carries the HMAC-SHA256 of a webhook body: "sha256=<hex>".
const SignatureHeader = "X-Purgewatch-Signature"

// webhook POSTs the events as JSON, signed with the channel's secret.
type webhook struct {
	base
	url, secret string
	client      *http.Client
}

func (w *webhook) MaxEvents() int { return 100 }

// WebhookPayload is the body of a webhook message.
type WebhookPayload struct {
	SentAt time.Time      `json:"sentAt"`
	Events []WebhookEvent `json:"events"`
}

// WebhookEvent is one event in a webhook message; Version is the version object of `scan -o json`.
type WebhookEvent struct {
	ID        string           `json:"id"`
	Type      Kind             `json:"type"`
	Threshold string           `json:"threshold,omitempty"`
	Deadline  scanner.Deadline `json:"deadline,omitempty"`
	Reason    Reason           `json:"reason,omitempty"`
	// Version is absent from scan-failing events, their scan-recovered resolutions, digests and
	// consumed-deleted events.
	Version   *scanner.DocumentVersion `json:"version,omitempty"`
	Workloads []string                 `json:"workloads,omitempty"`
	Scan      *ScanFailure             `json:"scan,omitempty"`
	Digest    *WebhookDigest           `json:"digest,omitempty"`
	// Consumed is the other publisher's version of a consumed-deleted event (no version then).
	Consumed *scanner.ConsumedVersion `json:"consumed,omitempty"`
	// Test marks `purgewatch notify test`'s sample, about a made-up version.
	Test bool `json:"test,omitempty"`
}

// WebhookDigest is a routine digest (type digest): its window, and the versions of each list as
// `scan -o json` writes them (the first few; count is whole).
type WebhookDigest struct {
	Since   time.Time         `json:"since"`
	Until   time.Time         `json:"until"`
	Next    time.Time         `json:"next"`
	Pruned  WebhookDigestList `json:"pruned"`
	Purging WebhookDigestList `json:"purging"`
	// RetainedBytes is what the versions listed keep billed, as far as purgewatch saw them live.
	RetainedBytes int64 `json:"retainedBytes,omitempty"`
}

// WebhookDigestList is one list of a digest.
type WebhookDigestList struct {
	Count    int                       `json:"count"`
	Versions []scanner.DocumentVersion `json:"versions"`
}

func webhookDigest(d *Digest, now time.Time) *WebhookDigest {
	list := func(c DigestCount) WebhookDigestList {
		l := WebhookDigestList{Count: c.Count, Versions: make([]scanner.DocumentVersion, len(c.Versions))}
		for i, v := range c.Versions {
			v.Triage = []string{} // every one routine (the outbox does not keep the verdict)
			l.Versions[i] = scanner.NewDocumentVersion(v, now)
		}
		return l
	}
	return &WebhookDigest{Since: d.Since.UTC(), Until: d.Until.UTC(), Next: d.Next.UTC(), Pruned: list(d.Pruned), Purging: list(d.Purging),
		RetainedBytes: d.Retained}
}

func (w *webhook) Render(m Message) (Rendered, error) {
	p := WebhookPayload{SentAt: m.Now.UTC(), Events: make([]WebhookEvent, len(m.Events))}
	for i, e := range m.Events {
		p.Events[i] = webhookEvent(e, m)
	}
	body, err := json.Marshal(p)
	return Rendered{ContentType: "application/json", Body: body}, err
}

// Sign returns the X-Purgewatch-Signature value of body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (w *webhook) Send(ctx context.Context, m Message) error {
	r, err := w.Render(m)
	if err != nil {
		return unrenderable(err)
	}
	h := http.Header{}
	if w.secret != "" {
		h.Set(SignatureHeader, Sign(w.secret, r.Body))
	}
	return w.clean(post(ctx, w.client, w.url, redact.URL(w.url), r.ContentType, r.Body, h))
}

func webhookEvent(e Event, m Message) WebhookEvent {
	w := WebhookEvent{ID: e.ID, Type: e.Kind, Threshold: FormatThreshold(e.Threshold), Deadline: e.Deadline, Reason: e.Reason,
		Workloads: e.Workloads, Scan: e.Scan, Test: e.Test}
	switch {
	case e.Digest != nil:
		w.Digest = webhookDigest(e.Digest, m.Now)
	case e.Consumed != nil:
		w.Consumed = e.Consumed
	case e.Scan == nil:
		if e.Judged {
			e.Version.Triage = append([]string{}, e.Reasons...)
		}
		v := scanner.NewDocumentVersion(e.Version, m.Now)
		w.Version = &v
	}
	return w
}
