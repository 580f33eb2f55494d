package metrics

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/status"
)

// Exposition serves /metrics: the registry's own families (purgewatch's counters, Go and process
// metrics, scan health), encoded at each scrape as promhttp does, followed by the soft-deleted
// versions and galleries, rendered once per published state and written out as bytes. The two
// make one exposition, in the text format or OpenMetrics as the scraper asks, gzipped when it
// accepts gzip (the rendered part compressed once, as its own gzip member). Only
// seconds_until_purge, when metrics.relative is on, is computed per scrape.
type Exposition struct {
	reg      prometheus.Gatherer
	state    func() *status.State
	now      func() time.Time
	log      *zap.Logger
	relative atomic.Bool
	mu       sync.Mutex // one rendering per state, however many scrapers ask at once
	cache    *cached
}

// cached is a rendering with the bodies scrapes asked for, each made on the first scrape that
// needs it. A gzipped body is kept compressed only (a hundredth of the plain one at 100,000
// versions), so a Prometheus-only deployment holds megabytes, not the 70 MB of text.
type cached struct {
	*rendering
	mu     sync.Mutex
	bodies map[[2]bool][]byte // by (OpenMetrics, gzip)
}

// NewExposition returns the /metrics handler.
func NewExposition(reg prometheus.Gatherer, state func() *status.State, now func() time.Time, relative bool, log *zap.Logger) *Exposition {
	if log == nil {
		log = zap.NewNop()
	}
	e := &Exposition{reg: reg, state: state, now: now, log: log}
	e.relative.Store(relative)
	return e
}

// SetRelative switches seconds_until_purge on or off (config reload).
func (e *Exposition) SetRelative(on bool) { e.relative.Store(on) }

// current is the rendering of the published state, rendered anew when the state changed.
func (e *Exposition) current() *cached {
	st := e.state()
	if st == nil || st.Snapshot == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cache == nil || e.cache.state != st {
		e.cache = &cached{rendering: newRendering(st), bodies: map[[2]bool][]byte{}}
	}
	return e.cache
}

func (e *Exposition) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Only what the rendered part is written in: OpenMetrics and the text format (the fallback,
	// which every scraper reads).
	format := expfmt.NegotiateAccept(r.Header, expfmt.FmtOpenMetrics_1_0_0, expfmt.FmtOpenMetrics_0_0_1, expfmt.FmtText)
	om := format.FormatType() == expfmt.TypeOpenMetrics
	families, err := e.reg.Gather()
	if err != nil {
		e.log.Error("gathering metrics; serving what was gathered", zap.Error(err))
	}
	var head bytes.Buffer
	enc := expfmt.NewEncoder(&head, format)
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			e.log.Error("encoding metric family", zap.String("family", mf.GetName()), zap.Error(err))
		}
	}
	var tail bytes.Buffer
	c := e.current()
	if c != nil && e.relative.Load() {
		tail.Grow(len(c.versions) * 200) // one line a version: grown once, not doubled into place
		c.writeUntil(&tail, e.now(), om)
	}
	if om {
		tail.WriteString("# EOF\n")
	}
	w.Header().Set("Content-Type", string(format))
	gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
	}
	parts := [][]byte{head.Bytes(), nil, tail.Bytes()}
	if gz {
		parts[0], parts[2] = gzipMember(parts[0]), gzipMember(parts[2])
	}
	if c != nil {
		parts[1] = c.body(om, gz)
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return // the scraper went away
		}
	}
}

// body is the rendered part in the format asked, made once per rendering.
func (c *cached) body(om, gz bool) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := [2]bool{om, gz}
	if b, ok := c.bodies[key]; ok {
		return b
	}
	b, ok := c.bodies[[2]bool{om, false}]
	if !ok {
		b = c.families(om)
		if !gz {
			c.bodies[[2]bool{om, false}] = b
		}
	}
	if gz {
		b = gzipMember(b)
		c.bodies[key] = b
	}
	return b
}

// gzipMember compresses b as one gzip member; members written one after another are one valid
// gzip stream (RFC 1952), which Prometheus and Go's gzip reader read whole.
func gzipMember(b []byte) []byte {
	var out bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	gzipWriters.Put(zw)
	return out.Bytes()
}

// gzipWriters keeps compressors between scrapes: each holds a megabyte of state.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q, _ = strconv.ParseFloat(v, 64)
		}
		return q > 0
	}
	return false
}
