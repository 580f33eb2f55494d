package web

import (
	"encoding/json"
	"net/http"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/notify"
)

// delivery is the notification section of the page: dead letters first, then what waits.
type delivery struct {
	// Recovered is where a corrupt state file was moved at start: warnings may repeat.
	Recovered string
	Channels  []notify.Sends
	Dead      []notify.Letter
	Pending   []notify.Letter
	Err       string
}

func newDelivery(n Notifications, log *zap.Logger) *delivery {
	if n == nil {
		return nil
	}
	d := &delivery{Recovered: n.Recovered()}
	channels, err := n.Sends()
	if err != nil {
		log.Error("reading the channels' sends", zap.Error(err))
		d.Err = err.Error()
		return d
	}
	d.Channels = channels
	letters, err := n.Letters("")
	if err != nil {
		log.Error("reading the outbox", zap.Error(err))
		d.Err = err.Error()
		return d
	}
	for _, l := range letters {
		if l.State == notify.LetterDead {
			d.Dead = append(d.Dead, l)
		} else {
			d.Pending = append(d.Pending, l)
		}
	}
	return d
}

// outbox serves GET /api/v1/outbox[?channel=C] (what `purgewatch notify outbox` shows) and, behind
// the lifecycle guard, POST /api/v1/outbox/retry?channel=C (`notify retry`).
func outbox(mux *http.ServeMux, o Options, guard func(http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/outbox", gzipped(func(w http.ResponseWriter, r *http.Request) {
		if o.Notifications == nil {
			jsonError(w, "no notification channel is configured", http.StatusNotFound)
			return
		}
		letters, err := o.Notifications.Letters(r.URL.Query().Get("channel"))
		if err != nil {
			jsonError(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if letters == nil {
			letters = []notify.Letter{}
		}
		writeJSON(w, letters)
	}))
	mux.Handle("POST /api/v1/outbox/retry", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Notifications == nil {
			jsonError(w, "no notification channel is configured", http.StatusNotFound)
			return
		}
		n, err := o.Notifications.Retry(r.URL.Query().Get("channel"))
		if err != nil {
			jsonError(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]int{"requeued": n})
	})))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func jsonError(w http.ResponseWriter, msg string, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
