package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/scanner"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const sub = "11111111-1111-1111-1111-111111111111"

var thresholds = []time.Duration{72 * time.Hour, 24 * time.Hour, 6 * time.Hour}

// ver is a version of gallery g purged at purge, with its usable life ending grace days earlier.
func ver(g, name string, purge time.Time, graceDays int, tags map[string]string) scanner.Version {
	end := purge.Add(-time.Duration(graceDays) * 24 * time.Hour)
	return scanner.Version{Definition: &scanner.Definition{SubscriptionID: sub, ResourceGroup: "rg", Gallery: g, Image: "img", Tags: tags},
		Version:  name,
		Location: "westeurope", SoftDeletedAt: end.Add(-7 * 24 * time.Hour), ConsumptionEndsAt: end, PurgeAt: purge,
		PurgeAtSource: scanner.SourceComputed}
}

func snapshot(now time.Time, vs ...scanner.Version) *scanner.Snapshot {
	return &scanner.Snapshot{ScannedAt: now, Versions: vs}
}

// receiver is an HTTP endpoint standing in for Slack, Teams or a webhook: it can fail its first
// requests, and records every body it accepts.
type receiver struct {
	mu         sync.Mutex
	srv        *httptest.Server
	bodies     [][]byte
	headers    []http.Header
	failures   int
	status     int
	retryAfter string
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{status: http.StatusInternalServerError}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failures > 0 {
			r.failures--
			if r.retryAfter != "" {
				w.Header().Set("Retry-After", r.retryAfter)
			}
			http.Error(w, "try later", r.status)
			return
		}
		r.bodies = append(r.bodies, body)
		r.headers = append(r.headers, req.Header.Clone())
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) fail(n, status int, retryAfter string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures, r.status, r.retryAfter = n, status, retryAfter
}

func (r *receiver) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

// webhookEvents decodes every webhook message received, in order.
func (r *receiver) webhookEvents(t *testing.T) []WebhookEvent {
	t.Helper()
	var out []WebhookEvent
	for _, b := range r.received() {
		var p WebhookPayload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("webhook body: %v: %s", err, b)
		}
		out = append(out, p.Events...)
	}
	return out
}

type harness struct {
	t     testing.TB
	clock *clock.Fake
	path  string
	file  *state.File
	n     *Notifier
	cfgs  []config.Channel
	set   Settings
}

// externalURL is the harness's --web.external-url.
const externalURL = "https://purgewatch.example.com/"

func newHarness(t testing.TB, channels ...config.Channel) *harness {
	t.Helper()
	h := &harness{t: t, clock: clock.NewFake(t0), path: filepath.Join(t.TempDir(), "state.db"), cfgs: channels}
	h.open()
	t.Cleanup(func() { _ = h.file.Close() })
	return h
}

// open (re)opens the state file and builds a notifier, as a process start does.
func (h *harness) open() {
	h.t.Helper()
	file, err := state.Open(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.file = file
	h.set = Settings{Thresholds: thresholds, Retry: config.Retry{Initial: 30 * time.Second, Max: time.Hour},
		ARMEndpoint: "https://management.azure.com", Routes: h.set.Routes, Routine: h.set.Routine, Digest: h.set.Digest, BlindAfter: time.Hour, ExternalURL: externalURL}
	for _, c := range h.cfgs {
		if c.Timeout == 0 {
			c.Timeout = 5 * time.Second
		}
		ch, err := NewChannel(c, Deps{AlertLead: 45 * time.Minute, Log: io.Discard})
		if err != nil {
			h.t.Fatal(err)
		}
		h.set.Channels = append(h.set.Channels, ch)
	}
	h.n = New(file, h.set, h.clock, nil, nil)
}

func (h *harness) restart() {
	h.t.Helper()
	if err := h.file.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open()
}

// scan is one scan's worth of notification work: queue, then deliver what is due.
func (h *harness) scan(snap *scanner.Snapshot, live map[string]bool) time.Time {
	h.t.Helper()
	if err := h.process(snap, live); err != nil {
		h.t.Fatal(err)
	}
	return h.n.deliverAll(context.Background())
}

// process queues what snap calls for as a complete scan's Announce does, with live saying which
// of the versions that left the bin exist again (nil: the settings' Liveness is asked, if any).
func (h *harness) process(snap *scanner.Snapshot, live map[string]bool) error {
	return process(h.n, snap, live)
}

func process(n *Notifier, snap *scanner.Snapshot, live map[string]bool) error {
	s := n.current()
	if live != nil {
		s.Liveness = knownLive(live)
	}
	m := n.mute(snap, n.clock.Now())
	p, err := n.planVersions(context.Background(), s, snap, nil, m)
	if err != nil {
		return err
	}
	if err := n.commit(s, p); err != nil {
		return err
	}
	if p, err = planDigest(n.state, s, snap, m, n.clock.Now()); err != nil {
		return err
	}
	return n.commit(s, p)
}

// watch queues what a scan's coverage calls for, as Announce does.
func (h *harness) watch(cov scanner.Coverage) error {
	s := h.n.current()
	p, err := planCoverage(h.n.state, s, cov, h.clock.Now())
	if err != nil {
		return err
	}
	return h.n.commit(s, p)
}

// knownLive is a Liveness that answers from a map.
type knownLive map[string]bool

func (k knownLive) LiveVersions(_ context.Context, ids []string) map[string]bool {
	out := map[string]bool{}
	for _, id := range ids {
		if alive, ok := k[id]; ok {
			out[id] = alive
		}
	}
	return out
}

func webhookChannel(name, url string) config.Channel {
	return config.Channel{Name: name, Type: config.ChannelWebhook, URL: url, Secret: "s3cret"}
}
