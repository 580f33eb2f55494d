package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/common/model"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/silence"
)

// silenceView is a silence as the API lists it: Alertmanager's shape, its state beside it.
type silenceView struct {
	silence.Silence
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

// postedSilence is what POST /api/v1/silences takes: Alertmanager's fields (a silence starts
// when it is posted: startsAt is read and not used; matchers as {name, op, value} or
// Alertmanager's {name, value, isRegex, isEqual}), or a duration in place of endsAt.
type postedSilence struct {
	Matchers  []silence.Matcher `json:"matchers"`
	StartsAt  time.Time         `json:"startsAt"`
	EndsAt    time.Time         `json:"endsAt"`
	Duration  string            `json:"duration"`
	CreatedBy string            `json:"createdBy"`
	Comment   string            `json:"comment"`
}

// silences serves GET /api/v1/silences (what `purgewatch silence query` shows) and, behind the
// lifecycle guard, POST /api/v1/silences (`silence add`) and DELETE /api/v1/silences/{id}
// (`silence expire`).
func silences(mux *http.ServeMux, o Options, guard func(http.Handler) http.Handler) {
	store := func(w http.ResponseWriter) *silence.Store {
		if o.Silences == nil {
			jsonError(w, "no state file is kept (no notification channel is configured): there are no silences", http.StatusNotFound)
		}
		return o.Silences
	}
	mux.Handle("GET /api/v1/silences", gzipped(func(w http.ResponseWriter, _ *http.Request) {
		st := store(w)
		if st == nil {
			return
		}
		list, err := st.List()
		if err != nil {
			o.Logger.Warn("a silence cannot be read", zap.Error(err))
		}
		writeJSON(w, views(list, o.Now()))
	}))
	mux.Handle("POST /api/v1/silences", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := store(w)
		if st == nil {
			return
		}
		var p postedSilence
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			jsonError(w, "the silence is not valid JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		now := o.Now()
		d := p.EndsAt.Sub(now)
		if p.Duration != "" {
			md, err := model.ParseDuration(p.Duration)
			if d = time.Duration(md); err != nil {
				jsonError(w, fmt.Sprintf("duration %q: %v", p.Duration, err), http.StatusBadRequest)
				return
			}
		}
		s, err := silence.New(p.Matchers, d, p.CreatedBy, p.Comment, now)
		if err != nil {
			jsonError(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := st.Add(s); err != nil {
			jsonError(w, err.Error(), writeStatus(err))
			return
		}
		o.Logger.Info("silence added", silenceFields(s)...)
		writeJSON(w, map[string]string{"silenceID": s.ID})
	})))
	mux.Handle("DELETE /api/v1/silences/{id}", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := store(w)
		if st == nil {
			return
		}
		s, err := st.Expire(r.PathValue("id"), o.Now())
		switch {
		case errors.Is(err, silence.ErrNotFound):
			jsonError(w, err.Error(), http.StatusNotFound)
			return
		case err != nil:
			jsonError(w, err.Error(), writeStatus(err))
			return
		}
		o.Logger.Info("silence expired", silenceFields(s)...)
		writeJSON(w, views([]silence.Silence{s}, o.Now())[0])
	})))
}

func views(list []silence.Silence, now time.Time) []silenceView {
	out := make([]silenceView, len(list))
	for i, s := range list {
		out[i].Silence = s
		out[i].Status.State = s.State(now)
	}
	return out
}

func silenceFields(s silence.Silence) []zap.Field {
	matchers := make([]string, len(s.Matchers))
	for i, m := range s.Matchers {
		matchers[i] = m.String()
	}
	return []zap.Field{zap.String("id", s.ID), zap.Strings("matchers", matchers), zap.String("createdBy", s.CreatedBy),
		zap.String("comment", s.Comment), zap.Time("endsAt", s.EndsAt)}
}

// writeStatus is the status of a write the state could not take: 503 on a standby replica (ha),
// whose error says who leads; 500 otherwise.
func writeStatus(err error) int {
	var standby interface{ Standby() bool }
	if errors.As(err, &standby) && standby.Standby() {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
