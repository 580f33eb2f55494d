package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/scanner"
)

// Each scan goes through these stages, in this order, after Alertmanager's notify pipeline:
//
//	due → resolve → route → dedupe → enqueue → deliver
//
// due lists what the snapshot calls for (deadlines in event.go); resolve adds the resolutions of
// versions a channel was told of that have left the bin; route keeps what a channel is meant to
// hear; dedupe drops what the channel's log already holds; enqueue logs and queues in one
// transaction; deliver (deliver.go) sends from one worker per channel. The log's open versions
// are read once per scan. `notify preview` runs due to dedupe, so it shows what `run` would send.

// Liveness tells which of the versions a channel was told of exist again as live versions, so
// that their resolution says "recovered"; *scanner.Scanner.
type Liveness interface {
	LiveVersions(ctx context.Context, ids []string) map[string]bool
}

// livenessBudget bounds the liveness reads of one scan.
const livenessBudget = time.Minute

// Announce is the notifier's part of each scan, in one call: it plans what snap calls for (snap
// is nil when the scan read nothing), what the estate's coverage calls for (blindness), queues
// both and wakes the workers; then the log is pruned when that is due.
func (n *Notifier) Announce(ctx context.Context, snap *scanner.Snapshot, users map[string][]scanner.Workload, cov scanner.Coverage) error {
	n.announcing.Lock()
	defer n.announcing.Unlock()
	defer n.forget()
	s := n.current()
	var errs []error
	if snap != nil {
		now := n.clock.Now()
		m := n.mute(snap, now)
		n.countRoutine(s, snap, now)
		p, err := n.planVersions(ctx, s, snap, users, m)
		if err == nil {
			err = n.commit(s, p)
		}
		errs = append(errs, err)
		if p, err = planDigest(n.state, s, snap, m, now); err == nil {
			err = n.commit(s, p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("queuing the routine digest: %w", err))
		}
		if p, err = planConsumed(n.state, s, snap); err == nil {
			err = n.commit(s, p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("queuing the notifications of images consumed from others: %w", err))
		}
	}
	p, err := planCoverage(n.state, s, cov, n.clock.Now())
	if err == nil {
		err = n.commit(s, p)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("queuing the scan-failing notification: %w", err))
	}
	return errors.Join(errs...)
}

// planVersions reads each channel's open versions once, asks Settings.Liveness about those that
// left the bin (outside every lock: ARM may be slow), then plans.
func (n *Notifier) planVersions(ctx context.Context, s Settings, snap *scanner.Snapshot, users map[string][]scanner.Workload, m *mute) (plan, error) {
	seen := newPresence(snap)
	opens, err := readOpens(n.state, s.Channels, seen)
	if err != nil {
		return plan{}, fmt.Errorf("reading the notification log: %w", err)
	}
	var live map[string]bool
	if ids := absent(opens, seen); len(ids) > 0 && s.Liveness != nil {
		liveCtx, cancel := context.WithTimeout(ctx, livenessBudget)
		live = s.Liveness.LiveVersions(liveCtx, ids)
		cancel()
	}
	p, err := makePlan(n.state, s, snap, seen, opens, users, live, m, n.silenced, n.clock.Now())
	n.counted, n.mutedNow = n.mutedNow, map[string]bool{} // what stays muted is counted once
	return p, err
}

// plan is one scan's work: new messages per channel, and per channel that resends what is still
// active (Alertmanager) the alerts still active, so that they do not expire while the condition
// lasts.
type plan struct {
	batches []queued
	active  map[string][]Event
	source  string // sourceVersions, sourceScan or sourceConsumed: which of a channel's active alerts these replace
}

// queued is one channel's new messages, ready to enter the outbox.
type queued struct {
	channel  string
	messages [][]Event
}

// presence is what a snapshot holds, by version key and by lower-cased ARM id.
type presence struct {
	keys, ids map[string]bool
}

func newPresence(snap *scanner.Snapshot) presence {
	p := presence{keys: make(map[string]bool, len(snap.Versions)), ids: make(map[string]bool, len(snap.Versions))}
	for _, v := range snap.Versions {
		p.keys[versionKey(v)] = true
		p.ids[strings.ToLower(v.ID())] = true
	}
	return p
}

// openVersion is a version announced on a channel and not yet resolved; version is decoded only
// for those the snapshot no longer holds.
type openVersion struct {
	state.OpenVersion
	version *scanner.Version
}

// readOpens is the scan's one read of the log's open versions, per channel.
func readOpens(l Ledger, channels []Channel, seen presence) (map[string][]openVersion, error) {
	out := make(map[string][]openVersion, len(channels))
	for _, ch := range channels {
		raw, err := l.OpenVersions(ch.Name(), seen.keys)
		if err != nil {
			return nil, err
		}
		opens := make([]openVersion, len(raw))
		for i, o := range raw {
			opens[i].OpenVersion = o
			if o.Version == nil {
				continue
			}
			v, err := decodeOpen(o.Shared, o.Version)
			if err != nil {
				return nil, fmt.Errorf("channel %s: an open version: %w", ch.Name(), err)
			}
			opens[i].version = &v
			if opens[i].Key == "" { // the log keeps a hash of it: the version says it again
				opens[i].Key = versionKey(v)
			}
		}
		out[ch.Name()] = opens
	}
	return out, nil
}

// absent returns the lower-cased ARM ids of versions announced on some channel and no longer in
// the snapshot: what Liveness is asked about.
func absent(opens map[string][]openVersion, seen presence) []string {
	var out []string
	asked := map[string]bool{}
	for _, list := range opens {
		for _, o := range list {
			if o.version == nil || seen.keys[o.Key] {
				continue
			}
			if id := strings.ToLower(o.version.ID()); !asked[id] {
				asked[id] = true
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// makePlan runs due, resolve, route, dedupe and mute for every channel; muted reports each event a
// silence kept from a channel (nil: nobody counts).
func makePlan(l Ledger, s Settings, snap *scanner.Snapshot, seen presence, opens map[string][]openVersion, users map[string][]scanner.Workload,
	live map[string]bool, m *mute, muted func(channel string, e Event), now time.Time) (plan, error) {
	candidates := due(snap, users, now, s.Thresholds, s.Routine)
	r := router{routes: s.Routes, all: channelNames(s.Channels)}
	p := plan{active: map[string][]Event{}, source: sourceVersions}
	for _, ch := range s.Channels {
		name := ch.Name()
		routed := route(r, candidates, name)
		resolved := resolve(opens[name], seen, live, now)
		// A resolution goes where the version was announced, whatever the routes say now.
		candidates := routed
		if len(resolved) > 0 {
			candidates = append(slices.Clip(routed), resolved...) // a copy: routed may be shared
		}
		fresh, err := dedupe(l, name, candidates, opens[name], now)
		if err != nil {
			return p, err
		}
		fresh = m.keep(fold(fresh, opens[name]), func(e Event) {
			if muted != nil {
				muted(name, e)
			}
		})
		if len(fresh) > 0 {
			sortEvents(fresh)
			p.batches = append(p.batches, queued{channel: name, messages: split(fresh, ch.MaxEvents())})
		}
		if resendsActive(ch) {
			if active := m.keep(activeEvents(fold(routed, opens[name]), opens[name], fresh), func(Event) {}); len(active) > 0 {
				p.active[name] = active
			}
		}
	}
	return p, nil
}

// resolve returns a resolution for each version the channel was told of that the snapshot no
// longer holds: recovered (live again), purged (its purge time passed) or gone (deleted before
// it). A version whose liveness is not known yet waits for the next scan.
func resolve(opens []openVersion, seen presence, live map[string]bool, now time.Time) []Event {
	var out []Event
	for _, o := range opens {
		if seen.keys[o.Key] || o.version == nil {
			continue
		}
		v := *o.version
		id := strings.ToLower(v.ID())
		alive, checked := live[id]
		var reason Reason
		switch {
		case seen.ids[id] || alive: // recovered, and perhaps deleted again since
			reason = ReasonRecovered
		case !now.Before(v.PurgeAt):
			reason = ReasonPurged
		case checked:
			reason = ReasonGone
		default:
			continue
		}
		out = append(out, Event{ID: eventID(o.Key, KindResolved, 0), Kind: KindResolved, Reason: reason,
			Version: v, Since: o.Since, Severity: o.Severity, key: o.Key})
	}
	return out
}

// route keeps the events of versions the routes send to channel.
func route(r router, events []Event, channel string) []Event {
	if len(r.routes) == 0 {
		return events // every channel hears every version: no copy of 100,000 events per channel
	}
	var out []Event
	for _, e := range events {
		if slices.Contains(r.channels(e.Version), channel) {
			out = append(out, e)
		}
	}
	return out
}

// dedupeChunk is how many events dedupe asks the log about at once.
const dedupeChunk = 5000

// dedupe drops the events the channel's log already holds, and dates the rest: an event about a
// version already announced keeps when it was first announced.
func dedupe(l Ledger, channel string, events []Event, opens []openVersion, now time.Time) ([]Event, error) {
	// The log is asked a chunk at a time: at 100,000 candidates, one question held every key and
	// every record it read at once, tens of MB for the length of a scan.
	logged := make(map[string]bool)
	for chunk := range slices.Chunk(events, dedupeChunk) {
		seen, err := l.Logged(channel, keys(chunk))
		if err != nil {
			return nil, err
		}
		maps.Copy(logged, seen)
	}
	openBy := byKey(opens)
	// Counted first, then made, as due does: a first scan's 100,000 fresh events grown by appends
	// copied hundreds of MB.
	n := 0
	for _, e := range events {
		if !logged[e.ID] {
			n++
		}
	}
	fresh := make([]Event, 0, n)
	for _, e := range events {
		if logged[e.ID] {
			continue
		}
		if o, ok := openBy[e.vkey()]; ok && e.Kind != KindResolved {
			e.Since = o.Since
		} else {
			e.PreviousSeverity = "" // nothing was announced before, so nothing to end
			if e.Since.IsZero() {
				e.Since = now
			}
		}
		fresh = append(fresh, e)
	}
	return fresh, nil
}

// fold keeps each version to one line of what a channel hears at once. A version's first
// announcement states its deadlines, so it covers every threshold already crossed then: a deleted
// event carries the thresholds due beside it, and a threshold (or unusable) crossed before the
// version was first announced on the channel is not announced again.
func fold(events []Event, opens []openVersion) []Event {
	deleted := map[string]bool{}
	for _, e := range events {
		if e.Kind == KindDeleted {
			deleted[e.vkey()] = true
		}
	}
	openBy := byKey(opens)
	covered := func(e Event) bool {
		if e.Kind != KindExpiring && e.Kind != KindUnusable {
			return false
		}
		key := e.vkey()
		if deleted[key] {
			return true
		}
		o, ok := openBy[key]
		switch {
		case !ok:
			return false
		case e.Kind == KindUnusable:
			return !o.Since.Before(e.Version.ConsumptionEndsAt)
		}
		return e.At().Sub(o.Since) <= e.Threshold
	}
	if !slices.ContainsFunc(events, covered) {
		return events // the common case: no copy (events may be shared between channels)
	}
	out := make([]Event, 0, len(events))
	for _, e := range events {
		if !covered(e) {
			out = append(out, e)
		}
	}
	return out
}

func byKey(opens []openVersion) map[string]openVersion {
	out := make(map[string]openVersion, len(opens))
	for _, o := range opens {
		out[o.Key] = o
	}
	return out
}

// activeEvents are the alerts to send again: every event due now for a version already announced
// on the channel, less those this scan queues anyway.
func activeEvents(due []Event, opens []openVersion, fresh []Event) []Event {
	openBy := byKey(opens)
	queuedNow := make(map[string]bool, len(fresh))
	for _, e := range fresh {
		queuedNow[e.ID] = true
	}
	var out []Event
	for _, e := range due {
		o, ok := openBy[e.vkey()]
		if !ok || queuedNow[e.ID] {
			continue
		}
		e.Since, e.PreviousSeverity = o.Since, ""
		out = append(out, e)
	}
	return out
}

// planCoverage is blindness's plan: once the estate has not been seen whole for BlindAfter, every
// channel gets one scan-failing event; the first complete scan after it, one scan-recovered
// resolution. Both go through the same log and outbox as version events, so each is sent once
// and survives a restart (the open episode is kept in the state file).
func planCoverage(l Ledger, s Settings, cov scanner.Coverage, now time.Time) (plan, error) {
	p := plan{active: map[string][]Event{}, source: sourceScan}
	for _, ch := range s.Channels {
		name := ch.Name()
		open, err := blindEpisode(l, name)
		if err != nil {
			return p, err
		}
		var e Event
		switch {
		case !cov.Complete && open == nil && now.Sub(cov.Since) >= s.BlindAfter:
			e = Event{ID: eventID(blindKey(cov.Since), KindScanFailing, 0), Kind: KindScanFailing, Severity: severityCritical,
				Since: cov.Since.UTC(), Scan: scanFailure(cov)}
		case cov.Complete && open != nil:
			e = Event{ID: eventID(blindKey(open.Scan.Since), KindResolved, 0), Kind: KindResolved, Reason: ReasonScanRecovered,
				Severity: severityCritical, Since: open.Since, Scan: &ScanFailure{Since: open.Scan.Since}}
		case open != nil:
			if resendsActive(ch) { // still blind: keep the alert from expiring
				p.active[name] = []Event{*open}
			}
			continue
		default:
			continue
		}
		logged, err := l.Logged(name, keys([]Event{e}))
		if err != nil {
			return p, err
		}
		if !logged[e.ID] {
			p.batches = append(p.batches, queued{channel: name, messages: [][]Event{{e}}})
		}
	}
	return p, nil
}

// enqueueChunk bounds the events one transaction writes: bbolt holds a transaction's every
// changed page in memory until it commits, which for 100,000 events on a first scan was hundreds
// of MB; the records are made a chunk at a time for the same reason.
const enqueueChunk = 5000

// commit is enqueue: it logs and queues a plan, several whole messages to a transaction, up to
// enqueueChunk events (a crash between two leaves the later messages unlogged, so the next scan
// queues them again, and none twice); then it hands each channel that resends what is active the
// alerts to send again, and wakes the workers.
func (n *Notifier) commit(s Settings, p plan) error {
	now := n.clock.Now()
	var chunk []state.Message
	events := 0
	flush := func() error {
		err := n.state.Enqueue(chunk, now)
		chunk, events = chunk[:0], 0
		return err
	}
	for _, q := range p.batches {
		for _, m := range q.messages {
			recs, err := records(m)
			if err != nil {
				return fmt.Errorf("queuing notifications: %w", err)
			}
			chunk, events = append(chunk, state.Message{Channel: q.channel, Events: recs}), events+len(m)
			if events < enqueueChunk {
				continue
			}
			if err := flush(); err != nil {
				return fmt.Errorf("queuing notifications: %w", err)
			}
		}
	}
	if len(chunk) > 0 {
		if err := flush(); err != nil {
			return fmt.Errorf("queuing notifications: %w", err)
		}
	}
	n.wake(s, p)
	return nil
}

// wake is deliver's start: each channel with new messages, or with active alerts to send again,
// has its worker woken.
func (n *Notifier) wake(s Settings, p plan) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ch := range s.Channels {
		if !resendsActive(ch) || p.source == "" { // a plan with no active alerts of its own (the digest)
			continue
		}
		l, active := n.laneLocked(ch.Name()), p.active[ch.Name()]
		l.active[p.source] = active
		if len(active) > 0 {
			l.pending = true
			l.poke()
		}
	}
	for _, q := range p.batches {
		n.laneLocked(q.channel).poke()
	}
}
