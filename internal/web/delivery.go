package web

import (
	"encoding/json"
	"net/http"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/notify"
)

// delivery is the notification section of the page: each channel's last sends, the dead
// letters, then what waits.
type delivery struct {
	// Recovered is where a corrupt state file was moved at start: warnings may repeat.
	Recovered string
	Channels  []channelRow
	Dead      []notify.Letter
	Pending   []notify.Letter
	Err       string
}

// channelRow is a channel's last sends and how many of its messages wait or were refused.
type channelRow struct {
	state.Sends
	Pending, Dead int
}

func newDelivery(n Notifications, log *zap.Logger) *delivery {
	if n == nil {
		return nil
	}
	d := &delivery{Recovered: n.Recovered()}
	sends, err := n.Sends()
	if err == nil {
		var letters []notify.Letter
		if letters, err = n.Letters(""); err == nil {
			d.Channels, d.Dead, d.Pending = channelRows(sends, letters)
		}
	}
	if err != nil {
		log.Error("reading the notification state", zap.Error(err))
		d.Err = err.Error()
	}
	return d
}

// channelRows counts each channel's letters into its row (adding a row for a channel with
// letters and no record, one a reload removed) and splits the letters into dead and pending.
func channelRows(sends []state.Sends, letters []notify.Letter) (rows []channelRow, dead, pending []notify.Letter) {
	at := map[string]int{}
	for _, s := range sends {
		at[s.Channel] = len(rows)
		rows = append(rows, channelRow{Sends: s})
	}
	for _, l := range letters {
		i, ok := at[l.Channel]
		if !ok {
			i, at[l.Channel] = len(rows), len(rows)
			rows = append(rows, channelRow{Sends: state.Sends{Channel: l.Channel}})
		}
		if l.State == notify.LetterDead {
			rows[i].Dead++
			dead = append(dead, l)
		} else {
			rows[i].Pending++
			pending = append(pending, l)
		}
	}
	return rows, dead, pending
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
			status := writeStatus(err)
			if status == http.StatusInternalServerError {
				status = http.StatusBadRequest // an unknown channel, as before
			}
			jsonError(w, err.Error(), status)
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
