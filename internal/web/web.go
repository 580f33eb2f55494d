// Package web serves purgewatch over HTTP: /metrics, the status page a person keeps open during
// an incident, the snapshot as JSON, health and readiness, and the reload endpoint.
package web

import (
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/internal/recovery"
	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/notify"
	"github.com/purgewatch/purgewatch/scanner"
)

// Daemon is what the handlers read.
type Daemon interface {
	State() *status.State
}

// Notifications is what the page and the API show and steer of delivery; *notify.Notifier.
type Notifications interface {
	// Letters lists the messages waiting and the dead letters, of one channel or of all ("").
	Letters(channel string) ([]notify.Letter, error)
	// Retry queues a channel's dead letters again.
	Retry(channel string) (int, error)
	// Recovered is where a corrupt state file was moved aside at start, or "".
	Recovered() string
	// Sends is each channel's last delivery, last failure, and messages waiting and dead.
	Sends() ([]state.Sends, error)
}

// Options configures the handler.
type Options struct {
	Daemon Daemon
	// Reload applies the configuration file again, everywhere or nowhere (POST /-/reload).
	Reload func() error
	// Notifications is nil when no channel is configured; so are Silences.
	Notifications Notifications
	Silences      *silence.Store
	// EnableLifecycle turns on the endpoints that change what purgewatch does: POST /-/reload and
	// POST /api/v1/outbox/retry, POST and DELETE /api/v1/silences (server.enableLifecycle, as
	// Prometheus's --web.enable-lifecycle).
	EnableLifecycle bool
	Gatherer        prometheus.Gatherer
	// Metrics serves /metrics (metrics.Exposition); nil serves Gatherer through promhttp.
	Metrics http.Handler
	Now     func() time.Time
	Logger  *zap.Logger
	// ARMEndpoint is shown in the recovery requests on the status page.
	ARMEndpoint func() string
	// Thresholds are notify.thresholds: a row is coloured by the one its next deadline crossed.
	Thresholds func() []time.Duration
	// StoragePrice is metrics.storagePricePerGBMonth (nil or 0: sizes only).
	StoragePrice func() float64
	Version      string
	// Replica says whether this replica leads, when purgewatch runs as several (ha); nil, it
	// runs as one.
	Replica func() Replica
}

// Replica is this replica's part in a group (ha): its name, whether it leads, who does.
type Replica struct {
	Identity, Leader string
	Leading          bool
}

//go:embed status.html.tmpl
var templates embed.FS

var statusTemplate = template.Must(template.New("status.html.tmpl").Funcs(funcs).ParseFS(templates, "status.html.tmpl"))

// Handler returns purgewatch's HTTP handler.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	lifecycle := lifecycleGuard(o.EnableLifecycle)
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	} else {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
			ErrorLog: zap.NewStdLog(o.Logger), ErrorHandling: promhttp.ContinueOnError}))
	}
	// /healthz and /readyz for Kubernetes, /-/healthy and /-/ready as every Prometheus program.
	healthy := func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }
	ready := func(w http.ResponseWriter, _ *http.Request) {
		if !o.Daemon.State().Ready {
			http.Error(w, "the first scan has not finished yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	}
	mux.HandleFunc("GET /healthz", healthy)
	mux.HandleFunc("GET /-/healthy", healthy)
	mux.HandleFunc("GET /readyz", ready)
	mux.HandleFunc("GET /-/ready", ready)
	mux.Handle("GET /api/v1/versions", gzipped(func(w http.ResponseWriter, r *http.Request) {
		st := o.Daemon.State()
		if st.Snapshot == nil {
			jsonError(w, "no scan has read anything yet", http.StatusServiceUnavailable)
			return
		}
		now := o.Now()
		page, err := versionsPage(st, r.URL.Query(), now, thresholdsOf(o))
		if err != nil {
			jsonError(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err := st.Snapshot.WriteDocumentOf(w, page.versions, now, page.more); err != nil {
			o.Logger.Warn("writing a page of /api/v1/versions", zap.Error(err)) // most likely a client that went away
		}
	}))
	mux.Handle("POST /-/reload", lifecycle(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := o.Reload(); err != nil {
			http.Error(w, "reload refused, the previous configuration stays: "+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("reloaded\n"))
	})))
	outbox(mux, o, lifecycle)
	silences(mux, o, lifecycle)
	mux.Handle("GET /{$}", gzipped(func(w http.ResponseWriter, r *http.Request) {
		sel, err := parseSelection(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var list []silence.Silence
		if o.Silences != nil {
			list, _ = o.Silences.List() // one that cannot be read is logged by the notifier each scan
		}
		price := 0.0
		if o.StoragePrice != nil {
			price = o.StoragePrice()
		}
		page := newStatusPage(o.Daemon.State(), o.Now(), o.ARMEndpoint(), o.Version, thresholdsOf(o), sel, list, price)
		page.Delivery = newDelivery(o.Notifications, o.Logger)
		if o.Replica != nil {
			r := o.Replica()
			page.Replica = &r
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := statusTemplate.Execute(w, page); err != nil {
			o.Logger.Error("rendering the status page", zap.Error(err))
		}
	}))
	return secure(mux)
}

// urgency is a version's colour on the page: the scanner's, but a routine version (superseded,
// unused: nothing breaks when it goes) is never critical, as its notifications never are, so red
// is kept for what someone should act on.
func urgency(v *scanner.Version, now time.Time, thresholds []time.Duration, inUse bool) scanner.Urgency {
	u := v.Urgency(now, thresholds, inUse)
	if u == scanner.UrgencyCritical && v.Routine() {
		return scanner.UrgencyWarning
	}
	return u
}

// findingRows bounds the findings the page lists, the most severe first: the audit finds one per
// image definition of a large estate (5 MB of page at 100,000 versions); `purgewatch audit`
// and ?findings=all list them all.
const findingRows = 50

func worstFindings(all []audit.Finding, every bool) ([]audit.Finding, int) {
	if every || len(all) <= findingRows {
		return all, 0
	}
	rank := map[audit.Severity]int{audit.Critical: 0, audit.Warning: 1, audit.Info: 2}
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, func(a, b audit.Finding) int { return rank[a.Severity] - rank[b.Severity] })
	return sorted[:findingRows], len(all) - findingRows
}

// actRows bounds the page's "act first" list: past ten, the table below is the list.
const actRows = 10

// statusPage is what the template shows.
type statusPage struct {
	Now           time.Time
	Version       string
	Ready         bool
	Versions      []versionRow
	SoftDelOff    []scanner.Gallery
	Galleries     int
	Subscriptions int
	Scans         []status.ScanRecord
	Audited       bool
	// Consumed are other publishers' image versions the workloads use that their publisher
	// soft-deleted: shown first, since nothing here recovers them.
	Consumed []scanner.ConsumedVersion
	Findings []audit.Finding
	// FindingsMore is how many findings the page leaves out (?findings=all shows them).
	FindingsMore int
	// Health is set when the last scan did not read everything: shown first, above the versions.
	Health *healthBanner
	// Delivery is the notifications' state; nil when no channel is configured.
	Delivery *delivery
	// Replica is set when purgewatch runs as several replicas: a standby says so first.
	Replica *Replica
	// Silences are every silence kept, active and recently expired.
	Silences []silenceView
	// Refresh is ?refresh=, seconds between reloads; 0, none.
	Refresh int
	// Grouped: the rows are under their image definitions (?group=image, or a long list).
	Grouped bool
	// Act are the versions to act on first, whatever the filter: those still in use, and those
	// not routine that are critical or unusable, soonest first (at most actRows).
	Act []versionRow
	// Total versions, how many the filter matches, and which of those (From..To, from 1) are
	// shown; Next and Prev link to the neighbouring pages.
	Total, Matching, From, To int
	Next, Prev                string
	Counts                    map[scanner.Urgency]int
	Filter                    filter
	// Soonest is the version whose next deadline comes first, whatever the filter: the summary's
	// first fact.
	Soonest *versionRow
}

// healthBanner says that what the page shows may be incomplete, why, and what to do.
type healthBanner struct {
	Failed bool // nothing was read: the versions shown are the last good data, if any
	// Since is the last complete scan, or the daemon's start when it never had one.
	Since  time.Time
	Never  bool
	Errors []scanner.ScopeError // the root-scope failure first, then up to a few more
	More   int
	Advice []string
}

// maxBannerErrors keeps the banner short; the scans table lists every failure.
const maxBannerErrors = 5

func newHealthBanner(st *status.State) *healthBanner {
	if len(st.History) == 0 || st.Healthy() || st.History[0].Result == status.ResultSkipped {
		return nil
	}
	last := st.History[0]
	b := &healthBanner{Failed: last.Result == status.ResultFailed, Since: st.BlindSince(), Never: st.LastComplete.IsZero()}
	errs := slices.Clone(last.Errors)
	slices.SortStableFunc(errs, func(a, b scanner.ScopeError) int {
		return cmp.Compare(boolRank(b.Scope == scanner.RootScope), boolRank(a.Scope == scanner.RootScope))
	})
	if len(errs) > maxBannerErrors {
		b.More, errs = len(errs)-maxBannerErrors, errs[:maxBannerErrors]
	}
	b.Errors = errs
	for _, e := range last.Errors {
		if a := e.Advice(); !slices.Contains(b.Advice, a) {
			b.Advice = append(b.Advice, a)
		}
	}
	if last.Err != "" {
		b.Errors = append(b.Errors, scanner.ScopeError{Scope: scanner.RootScope, Code: "ScanFailed", Message: last.Err})
	}
	return b
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

type versionRow struct {
	scanner.Version
	Deadline string        // what the next deadline is: "unusable in" or "purged in"
	Left     time.Duration // until the next deadline
	State    string
	Detail   string // what the state means in time
	Urgency  scanner.Urgency
	Restore  string // the request that recovers it
	// Recoverable: its purge time has not come yet.
	Recoverable bool
	UsedBy      []scanner.Workload
	// Verdict is triage's, in words: "routine", or why not; "" when it was not judged.
	Verdict string
	// DeletedByText says who deleted it and when, or why that is not known (deleters.Describe);
	// DeletedWho, DeletedKind and DeletedDetail are the same in parts, for the column, when known.
	DeletedByText                          string
	DeletedWho, DeletedKind, DeletedDetail string
	// Silence is the active silence that mutes its notifications, if any.
	Silence *silence.Silence
	// Retained says what it keeps billed until the purge, "" when not known.
	Retained string
	// GroupStart, on a grouped page, names the image definition whose rows this one begins.
	GroupStart string
}

// byImage orders the chosen versions under their image definitions: definitions by their
// soonest deadline, each one's versions soonest first (chosen is in deadline order already).
func byImage(vs []scanner.Version, chosen []int32) []int32 {
	key := func(i int32) string {
		return vs[i].SubscriptionID + "/" + vs[i].ResourceGroup + "/" + vs[i].Gallery + "/" + vs[i].Image
	}
	rank := map[string]int{}
	for _, i := range chosen {
		if _, ok := rank[key(i)]; !ok {
			rank[key(i)] = len(rank)
		}
	}
	out := slices.Clone(chosen)
	slices.SortStableFunc(out, func(a, b int32) int { return rank[key(a)] - rank[key(b)] })
	return out
}

// retainedText is what a version keeps billed, and its estimated cost a month at price a GB.
func retainedText(bytes int64, price float64) string {
	if bytes <= 0 {
		return ""
	}
	s := "keeps " + humantime.Bytes(bytes) + " billed until the purge"
	if price > 0 {
		s += fmt.Sprintf(" (≈ %.2f a month)", float64(bytes)/(1<<30)*price)
	}
	return s
}

func newStatusPage(st *status.State, now time.Time, endpoint, version string, thresholds []time.Duration, sel selection, silences []silence.Silence, price float64) statusPage {
	p := statusPage{Now: now, Version: version, Ready: st.Ready, Scans: st.History, Subscriptions: len(st.Subscriptions),
		Health: newHealthBanner(st), Silences: views(silences, now), Refresh: sel.refresh}
	if st.Audit != nil {
		p.Audited = true
		p.Findings, p.FindingsMore = worstFindings(st.Audit.Findings, sel.findings)
		p.Consumed = st.Audit.Consumed
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
	// Sorted and filtered as indexes: a request copies no version but the rows it shows.
	vs := st.Snapshot.Versions
	all := scanner.NextDeadlineOrder(vs, now)
	p.Total, p.Filter = len(all), sel.filter
	if len(all) > 0 {
		soonest := row(vs[all[0]], now, endpoint, thresholds, usedBy(st, &vs[all[0]]))
		p.Soonest = &soonest
	}
	// One pass, soonest first: the counts, and what to act on first.
	p.Counts = make(map[scanner.Urgency]int)
	for _, i := range all {
		users := usedBy(st, &vs[i])
		u := urgency(&vs[i], now, thresholds, len(users) > 0)
		p.Counts[u]++
		if len(p.Act) < actRows && (len(users) > 0 || !vs[i].Routine() && vs[i].Triage != nil && (u == scanner.UrgencyCritical || u == scanner.UrgencyUnusable)) {
			p.Act = append(p.Act, row(vs[i], now, endpoint, thresholds, users))
		}
	}
	chosen := all
	if sel.filter != (filter{}) {
		chosen = all[:0] // filtered in place: all is this request's own
		for _, i := range all {
			if sel.match(&vs[i], now, thresholds, usedBy(st, &vs[i])) {
				chosen = append(chosen, i)
			}
		}
	}
	p.Matching = len(chosen)
	if p.Grouped = sel.group == "image" || sel.group == "" && len(chosen) > groupAbove; p.Grouped {
		chosen = byImage(vs, chosen)
	}
	from := min(sel.from, len(chosen))
	to := min(from+sel.limit, len(chosen))
	p.From, p.To = from+1, to
	for _, i := range chosen[from:to] {
		r := row(vs[i], now, endpoint, thresholds, usedBy(st, &vs[i]))
		r.Silence = silence.Matching(silences, &vs[i], now)
		r.Retained = retainedText(vs[i].RetainedBytes, price)
		if n := len(p.Versions); p.Grouped && (n == 0 || p.Versions[n-1].Gallery != r.Gallery || p.Versions[n-1].Image != r.Image || p.Versions[n-1].SubscriptionID != r.SubscriptionID) {
			r.GroupStart = r.Gallery + " / " + r.Image
		}
		p.Versions = append(p.Versions, r)
	}
	if to < len(chosen) {
		p.Next = sel.link(to)
	}
	if from > 0 {
		p.Prev = sel.link(max(from-sel.limit, 0))
	}
	return p
}

func row(v scanner.Version, now time.Time, endpoint string, thresholds []time.Duration, usedBy []scanner.Workload) versionRow {
	deadline, at := v.NextDeadline(now)
	r := versionRow{Version: v, Left: at.Sub(now), State: v.State(now), UsedBy: usedBy, Recoverable: now.Before(v.PurgeAt),
		Urgency: urgency(&v, now, thresholds, len(usedBy) > 0), Deadline: "purged in", Detail: "usable until " + utc(v.ConsumptionEndsAt)}
	switch {
	case deadline == scanner.DeadlineConsumptionEnd:
		r.Deadline, r.Detail = "unusable in", "VMs and scale-outs fail from "+utc(v.ConsumptionEndsAt)+"; purged "+utc(v.PurgeAt)
	case r.Left <= 0:
		r.Deadline, r.Detail = "purge", "still listed by the service"
	case !now.Before(v.ConsumptionEndsAt):
		r.Detail = "unusable since " + utc(v.ConsumptionEndsAt)
	}
	switch {
	case v.Triage == nil:
	case v.Routine():
		r.Verdict = "routine"
	default:
		r.Verdict = triage.Explain(v.Triage)
	}
	r.DeletedByText = deleters.Describe(v, now)
	if d := v.DeletedBy; d != nil {
		r.DeletedWho = d.Who()
		r.DeletedKind = map[string]string{"ServicePrincipal": "service principal", "ManagedIdentity": "managed identity"}[d.PrincipalType]
		var parts []string
		if d.ClientIP != "" {
			parts = append(parts, "from "+d.ClientIP)
		}
		if !d.At.IsZero() {
			parts = append(parts, humantime.Short(now.Sub(d.At))+" ago")
		}
		r.DeletedDetail = strings.Join(parts, ", ")
	}
	if cmd, ok := recovery.RecoverCommand(endpoint, v.ID()); ok {
		r.Restore = "purgewatch recover " + recovery.ShellQuote(v.ID()) + "\n# or, without purgewatch:\n" + cmd
	}
	return r
}

// usedBy are the workloads the last audit found created from v.
func usedBy(st *status.State, v *scanner.Version) []scanner.Workload {
	if st.Audit == nil || len(st.Audit.References) == 0 {
		return nil
	}
	return st.Audit.References[strings.ToLower(v.ID())]
}

func thresholdsOf(o Options) []time.Duration {
	if o.Thresholds == nil {
		return nil
	}
	return o.Thresholds()
}
