package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/purgewatch/purgewatch/internal/redact"
)

// slack posts Block Kit messages to an incoming webhook.
type slack struct {
	base
	url    string
	client *http.Client
}

// Slack allows 50 blocks a message: a header, a context line and one section per event.
func (s *slack) MaxEvents() int { return 40 }

func (s *slack) Render(m Message) (Rendered, error) {
	title, err := s.tmpl.render("title", newMessageData(m))
	if err != nil {
		return Rendered{}, err
	}
	events, err := s.tmpl.renderEvents(m)
	if err != nil {
		return Rendered{}, err
	}
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
		// Verbatim: Slack makes no link, channel or mention of its own out of the text; the
		// links purgewatch means are written as <url|text>.
		Verbatim bool `json:"verbatim,omitempty"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	blocks := []block{{Type: "header", Text: &text{Type: "plain_text", Text: truncate(title, 150)}}}
	for _, e := range events {
		blocks = append(blocks, block{Type: "section", Text: &text{Type: "mrkdwn", Text: truncate(e, 3000), Verbatim: true}})
	}
	footer := "purgewatch · " + m.Now.UTC().Format("2006-01-02 15:04 UTC")
	if page := statusPage(m.ExternalURL, nil); page != "" {
		footer += " · <" + escapeMrkdwn(page) + "|status page>"
	}
	blocks = append(blocks, block{Type: "context", Elements: []text{{Type: "mrkdwn", Text: footer, Verbatim: true}}})
	body, err := json.Marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{title, blocks})
	return Rendered{Subject: title, ContentType: "application/json", Body: body}, err
}

func (s *slack) Send(ctx context.Context, m Message) error {
	r, err := s.Render(m)
	if err != nil {
		return unrenderable(err)
	}
	return s.clean(post(ctx, s.client, s.url, redact.URL(s.url), r.ContentType, r.Body, nil))
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
