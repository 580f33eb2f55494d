package notify

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/purgewatch/purgewatch/internal/redact"
)

// teams posts an Adaptive Card to a Teams Workflows webhook.
type teams struct {
	base
	url    string
	client *http.Client
}

// Teams takes about 28 KB a message.
func (t *teams) MaxEvents() int { return 25 }

func (t *teams) Render(m Message) (Rendered, error) {
	title, err := t.tmpl.render("title", newMessageData(m))
	if err != nil {
		return Rendered{}, err
	}
	events, err := t.tmpl.renderEvents(m)
	if err != nil {
		return Rendered{}, err
	}
	body := []map[string]any{{"type": "TextBlock", "text": title, "size": "Large", "weight": "Bolder", "wrap": true}}
	for _, e := range events {
		body = append(body, map[string]any{"type": "TextBlock", "text": e, "wrap": true, "separator": true})
	}
	content := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard", "version": "1.4", "body": body,
	}
	if page := statusPage(m.ExternalURL, nil); page != "" {
		content["actions"] = []map[string]any{{"type": "Action.OpenUrl", "title": "Open the status page", "url": page}}
	}
	card := map[string]any{
		"type":        "message",
		"attachments": []map[string]any{{"contentType": "application/vnd.microsoft.card.adaptive", "content": content}},
	}
	data, err := json.Marshal(card)
	return Rendered{Subject: title, ContentType: "application/json", Body: data}, err
}

func (t *teams) Send(ctx context.Context, m Message) error {
	r, err := t.Render(m)
	if err != nil {
		return unrenderable(err)
	}
	return t.clean(post(ctx, t.client, t.url, redact.URL(t.url), r.ContentType, r.Body, nil))
}
