// Package web serves purgewatch over HTTP: /metrics, the status page a person keeps open during
// an incident, the snapshot as JSON, health and readiness, and the reload endpoint.
package web

import (
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/daemon"
	"github.com/purgewatch/purgewatch/scanner"
)

// Daemon is what the handlers read and steer.
type Daemon interface {
	State() *daemon.State
	Reload() error
}

// Options configures the handler.
type Options struct {
	Daemon   Daemon
	Gatherer prometheus.Gatherer
	Now      func() time.Time
	Logger   *zap.Logger
	// ARMEndpoint is shown in the recovery requests on the status page.
	ARMEndpoint func() string
	Version     string
}

//go:embed status.html.tmpl
var templates embed.FS

var statusTemplate = template.Must(template.New("status.html.tmpl").Funcs(funcs).ParseFS(templates, "status.html.tmpl"))

// Handler returns purgewatch's HTTP handler.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(o.Logger), ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !o.Daemon.State().Ready {
			http.Error(w, "the first scan has not finished yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /api/v1/versions", func(w http.ResponseWriter, _ *http.Request) {
		snap := o.Daemon.State().Snapshot
		if snap == nil {
			http.Error(w, `{"error": "no scan has read anything yet"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(snap.Document(o.Now()))
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := o.Daemon.Reload(); err != nil {
			http.Error(w, "reload refused, the previous configuration stays: "+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("reloaded\n"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		page := newStatusPage(o.Daemon.State(), o.Now(), o.ARMEndpoint(), o.Version)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := statusTemplate.Execute(w, page); err != nil {
			o.Logger.Error("rendering the status page", zap.Error(err))
		}
	})
	return mux
}

// statusPage is what the template shows.
type statusPage struct {
	Now           time.Time
	Version       string
	Ready         bool
	Versions      []versionRow
	SoftDelOff    []scanner.Gallery
	Galleries     int
	Subscriptions int
	Scans         []daemon.ScanRecord
	Audited       bool
	Findings      []audit.Finding
}

type versionRow struct {
	scanner.Version
	Left    time.Duration
	State   string
	Detail  string // what the state means in time
	Urgency string // overdue, critical, warning, unusable, ok: the row's colour
	Restore string // the request that recovers it
	UsedBy  []scanner.Workload
}

func newStatusPage(st *daemon.State, now time.Time, endpoint, version string) statusPage {
	p := statusPage{Now: now, Version: version, Ready: st.Ready, Scans: st.History, Subscriptions: len(st.Subscriptions)}
	if st.Audit != nil {
		p.Audited, p.Findings = true, st.Audit.Findings
	}
	if st.Snapshot == nil {
		return p
	}
	p.Galleries = len(st.Snapshot.Galleries)
	for _, g := range st.Snapshot.Galleries {
		if !g.SoftDeleteEnabled {
			p.SoftDelOff = append(p.SoftDelOff, g)
		}
	}
	p.Versions = make([]versionRow, len(st.Snapshot.Versions))
	for i, v := range st.Snapshot.Versions {
		p.Versions[i] = row(v, now, endpoint)
		p.Versions[i].UsedBy = st.Snapshot.References[strings.ToLower(v.ID)]
	}
	return p
}

func row(v scanner.Version, now time.Time, endpoint string) versionRow {
	r := versionRow{Version: v, Left: v.PurgeAt.Sub(now), Detail: "usable until " + utc(v.ConsumptionEndsAt)}
	switch {
	case r.Left <= 0:
		r.State, r.Urgency, r.Detail = "purge due", "overdue", "still listed by the service"
	case !now.Before(v.ConsumptionEndsAt):
		r.State, r.Urgency, r.Detail = "unusable, recoverable", "unusable", "unusable since "+utc(v.ConsumptionEndsAt)
	case r.Left <= 24*time.Hour:
		r.State, r.Urgency = "usable, recoverable", "critical"
	case r.Left <= 72*time.Hour:
		r.State, r.Urgency = "usable, recoverable", "warning"
	default:
		r.State, r.Urgency = "usable, recoverable", "ok"
	}
	if r.Urgency == "unusable" && r.Left <= 24*time.Hour {
		r.Urgency = "critical"
	}
	r.Restore = "purgewatch recover " + v.ID + "\n# or, without purgewatch:\n" +
		`az rest --method patch --url "` + endpoint + v.ID + `?api-version=2026-03-03" --body '{"properties":{"restore":true}}'`
	return r
}
