package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
)

// logChannel writes one JSON line per event, to stdout in production.
type logChannel struct {
	base
	mu sync.Mutex
	w  io.Writer
}

func (l *logChannel) MaxEvents() int { return 1000 }

func (l *logChannel) Render(m Message) (Rendered, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, e := range m.Events {
		line := struct {
			Time    string `json:"ts"`
			Channel string `json:"channel"`
			WebhookEvent
		}{m.Now.UTC().Format("2006-01-02T15:04:05Z07:00"), l.name, webhookEvent(e, m)}
		if err := enc.Encode(line); err != nil {
			return Rendered{}, err
		}
	}
	return Rendered{ContentType: "application/x-ndjson", Body: b.Bytes()}, nil
}

func (l *logChannel) Send(_ context.Context, m Message) error {
	r, err := l.Render(m)
	if err != nil {
		return unrenderable(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(r.Body)
	return err
}
