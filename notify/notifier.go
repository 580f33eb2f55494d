package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// Settings are what a configuration reload may change.
type Settings struct {
	Channels   []Channel
	Routes     []config.Route
	Thresholds []time.Duration // loosest first
	Retry      config.Retry
	// ARMEndpoint goes into the recovery requests messages show.
	ARMEndpoint string
	// BlindAfter is how long without a complete scan before every channel is told (notify.blindAfter).
	BlindAfter time.Duration
}

// Notifier turns snapshots into notifications.
type Notifier struct {
	store   *Store
	clock   clock.Clock
	log     *zap.Logger
	metrics *Metrics
	kick    chan struct{}

	mu sync.Mutex // one Process or Deliver at a time: a channel's head is sent and recorded alone
	s  Settings
}

// New returns a Notifier over an open store.
func New(store *Store, s Settings, c clock.Clock, log *zap.Logger, m *Metrics) *Notifier {
	if c == nil {
		c = clock.Real{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	n := &Notifier{store: store, clock: c, log: log, metrics: m, kick: make(chan struct{}, 1)}
	n.Configure(s)
	return n
}

// Configure applies reloaded settings; what is queued stays queued.
func (n *Notifier) Configure(s Settings) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.s = s
	if n.metrics != nil {
		for _, ch := range s.Channels {
			n.metrics.init(ch)
		}
	}
}

func (n *Notifier) channel(name string) Channel {
	for _, ch := range n.s.Channels {
		if ch.Name() == name {
			return ch
		}
	}
	return nil
}

func (n *Notifier) names() []string {
	out := make([]string, len(n.s.Channels))
	for i, ch := range n.s.Channels {
		out[i] = ch.Name()
	}
	return out
}

// Absent returns the ARM ids of versions announced on some channel and no longer in snap. Before
// Process, the caller asks Azure (through the scanner) which of them exist again as live versions.
func (n *Notifier) Absent(snap *scanner.Snapshot) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	present := keys(snap)
	var out []string
	for _, name := range n.names() {
		opens, err := n.store.openVersions(name)
		if err != nil {
			return nil, err
		}
		for _, o := range opens {
			if present[o.key] {
				continue
			}
			var v scanner.Version
			if err := json.Unmarshal(o.raw, &v); err == nil && !slices.Contains(out, strings.ToLower(v.ID)) {
				out = append(out, strings.ToLower(v.ID))
			}
		}
	}
	return out, nil
}

func keys(snap *scanner.Snapshot) map[string]bool {
	out := make(map[string]bool, len(snap.Versions))
	for _, v := range snap.Versions {
		out[versionKey(v)] = true
	}
	return out
}

// Process queues, per channel, the events snap calls for that the channel has not had, as one
// digest (split where the channel's limits demand), in the same transaction that logs them. live
// holds, by lower-cased ARM id, whether an absent version exists again as a live version; an
// absent version missing from it is resolved later, unless its purge time has passed.
func (n *Notifier) Process(ctx context.Context, snap *scanner.Snapshot, live map[string]bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.clock.Now()
	candidates := due(snap, now, n.s.Thresholds)
	present := keys(snap)
	presentIDs := make(map[string]bool, len(snap.Versions))
	for _, v := range snap.Versions {
		presentIDs[strings.ToLower(v.ID)] = true
	}
	r := router{routes: n.s.Routes, all: n.names()}

	var batches []queued
	var refresh []func() // Alertmanager: active alerts are sent again each scan
	for _, ch := range n.s.Channels {
		name := ch.Name()
		opens, err := n.store.openVersions(name)
		if err != nil {
			return err
		}
		openBy := make(map[string]openVersion, len(opens))
		for _, o := range opens {
			openBy[o.key] = o
		}
		var events []Event
		for _, e := range candidates {
			if slices.Contains(r.channels(e.Version), name) {
				events = append(events, e)
			}
		}
		routed := slices.Clone(events)
		for _, o := range opens {
			if present[o.key] {
				continue
			}
			var v scanner.Version
			if err := json.Unmarshal(o.raw, &v); err != nil {
				return fmt.Errorf("channel %s: open version %s: %w", name, o.key, err)
			}
			id := strings.ToLower(v.ID)
			var reason Reason
			alive, checked := live[id]
			switch {
			case presentIDs[id] || alive: // recovered, and perhaps deleted again since
				reason = ReasonRecovered
			case !now.Before(v.PurgeAt):
				reason = ReasonPurged
			case checked:
				reason = ReasonGone
			default:
				continue // not known yet whether it was recovered: ask again next scan
			}
			events = append(events, Event{ID: eventID(o.key, KindResolved, 0), Kind: KindResolved, Reason: reason,
				Version: v, Since: o.since, Severity: o.severity})
		}
		ids := make([]string, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		logged, err := n.store.logged(name, ids)
		if err != nil {
			return err
		}
		fresh := events[:0]
		for _, e := range events {
			if logged[e.ID] {
				continue
			}
			if o, ok := openBy[versionKey(e.Version)]; ok && e.Kind != KindResolved {
				e.Since = o.since
			} else {
				e.PreviousSeverity = "" // nothing was announced before, so nothing to end
				if e.Since.IsZero() {
					e.Since = now
				}
			}
			fresh = append(fresh, e)
		}
		if len(fresh) > 0 {
			sortEvents(fresh)
			batches = append(batches, queued{channel: name, messages: split(fresh, ch.MaxEvents())})
		}
		if am, ok := ch.(*alertmanager); ok {
			active := activeEvents(routed, openBy, fresh)
			if len(active) > 0 {
				refresh = append(refresh, n.resend(ctx, am, name, active, now))
			}
		}
	}
	return n.commit(batches, refresh, now)
}

// commit logs and queues batches in one transaction, re-sends the active Alertmanager alerts, and
// wakes the delivery loop. Callers hold n.mu.
func (n *Notifier) commit(batches []queued, refresh []func(), now time.Time) error {
	if err := n.store.enqueue(batches, now); err != nil {
		return fmt.Errorf("queuing notifications: %w", err)
	}
	for _, f := range refresh {
		f()
	}
	n.updatePending()
	select {
	case n.kick <- struct{}{}:
	default:
	}
	return nil
}

// resend returns a refresh that sends still-active alerts to Alertmanager again, so that they do
// not expire while the condition lasts.
func (n *Notifier) resend(ctx context.Context, am *alertmanager, name string, active []Event, now time.Time) func() {
	return func() {
		if err := am.Send(ctx, Message{Channel: name, Events: active, Now: now, ARMEndpoint: n.s.ARMEndpoint}); err != nil {
			n.log.Warn("re-sending active alerts failed; they are sent again next scan", zap.String("channel", name), zap.Error(err))
		}
	}
}

// activeEvents are the alerts to send again: every event due now for a version already announced
// on the channel, less those this scan queues anyway.
func activeEvents(due []Event, openBy map[string]openVersion, fresh []Event) []Event {
	queued := make(map[string]bool, len(fresh))
	for _, e := range fresh {
		queued[e.ID] = true
	}
	var out []Event
	for _, e := range due {
		o, ok := openBy[versionKey(e.Version)]
		if !ok || queued[e.ID] {
			continue
		}
		e.Since, e.PreviousSeverity = o.since, ""
		out = append(out, e)
	}
	return out
}

func sortEvents(events []Event) {
	slices.SortStableFunc(events, func(a, b Event) int {
		return cmp.Or(a.Version.PurgeAt.Compare(b.Version.PurgeAt), strings.Compare(string(a.Kind), string(b.Kind)))
	})
}

func split(events []Event, size int) [][]Event {
	var out [][]Event
	for len(events) > 0 {
		n := min(size, len(events))
		out = append(out, events[:n:n])
		events = events[n:]
	}
	return out
}

// Deliver sends every message that is due, oldest first per channel; a channel whose head fails
// stops there until its next attempt, so its messages keep their order. It returns when the next
// attempt is due (zero when nothing waits).
func (n *Notifier) Deliver(ctx context.Context) time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	var next time.Time
	for _, ch := range n.s.Channels {
		if at := n.deliverChannel(ctx, ch); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	n.updatePending()
	return next
}

func (n *Notifier) deliverChannel(ctx context.Context, ch Channel) time.Time {
	name := ch.Name()
	for ctx.Err() == nil {
		head, err := n.store.head(name)
		if err != nil {
			n.log.Error("reading the outbox", zap.String("channel", name), zap.Error(err))
			return time.Time{}
		}
		now := n.clock.Now()
		if head == nil {
			return time.Time{}
		}
		if head.NextAttempt.After(now) {
			return head.NextAttempt
		}
		sendErr := ch.Send(ctx, Message{Channel: name, Events: head.Events, Now: now, ARMEndpoint: n.s.ARMEndpoint})
		if sendErr == nil {
			if err := n.store.delivered(name, head, n.clock.Now()); err != nil {
				// Sent but not recorded: the one message that may repeat (see README).
				n.log.Error("recording a delivered notification", zap.String("channel", name), zap.Error(err))
				return time.Time{}
			}
			n.metrics.count(ch, "sent", len(head.Events))
			continue
		}
		wait := backoff(n.s.Retry, head.Attempts+1, retryAfter(sendErr))
		if err := n.store.failed(head, now.Add(wait), sendErr); err != nil {
			n.log.Error("recording a failed notification", zap.String("channel", name), zap.Error(err))
		}
		n.metrics.count(ch, "failed", len(head.Events))
		n.log.Warn("notification failed; kept for retry", zap.String("channel", name), zap.String("type", ch.Type()),
			zap.Int("events", len(head.Events)), zap.Int("attempt", head.Attempts), zap.Duration("retryIn", wait), zap.Error(sendErr))
		return now.Add(wait)
	}
	return time.Time{}
}

// backoff doubles from Initial up to Max, or waits as long as the destination asked.
func backoff(r config.Retry, attempt int, asked time.Duration) time.Duration {
	d := r.Initial
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	return max(min(d, r.Max), asked)
}

// Run delivers until ctx is done: after each Process, and whenever a retry falls due.
func (n *Notifier) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := n.Deliver(ctx)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(n.clock.Now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		case <-timer.C:
		}
	}
}

func (n *Notifier) updatePending() {
	if n.metrics == nil {
		return
	}
	counts, err := n.store.pendingCounts()
	if err != nil {
		return
	}
	for _, ch := range n.s.Channels {
		n.metrics.pending.WithLabelValues(ch.Name()).Set(float64(counts[ch.Name()]))
	}
}
