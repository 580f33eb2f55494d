package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// A scan's snapshot goes through these stages, after Alertmanager's notify pipeline:
//
//	due → resolve → route → dedupe → enqueue → deliver
//
// due (event.go) lists what the snapshot calls for; resolve adds the resolutions of versions a
// channel was told of that have left the bin; route keeps what a channel is meant to hear; dedupe
// drops what the channel's log already holds; enqueue (store.go) logs and queues in one
// transaction; deliver (deliver.go) sends from one worker per channel. `notify preview` runs all
// but the last two, so it shows what `run` would send.

// ledger is what the stages read of the notification log: *Store, or nothing for a preview that
// cannot read the state file.
type ledger interface {
	// openVersions reads the channel's open versions, with the JSON of those present lacks.
	openVersions(channel string, present map[string]bool) ([]openVersion, error)
	logged(channel string, ids []string) (map[string]bool, error)
}

// emptyLog is a log that has recorded nothing: every event is new.
type emptyLog struct{}

func (emptyLog) openVersions(string, map[string]bool) ([]openVersion, error) { return nil, nil }
func (emptyLog) logged(string, []string) (map[string]bool, error)            { return map[string]bool{}, nil }

// plan is one scan's work: new messages per channel, and per Alertmanager channel the alerts
// still active, sent again so that they do not expire while the condition lasts.
type plan struct {
	batches []queued
	active  map[string][]Event
	source  string // sourceVersions or sourceScan: which of a channel's active alerts these replace
}

// makePlan runs due, resolve, route and dedupe for every channel.
// seen is newPresence(snap), made once per scan by the caller.
func makePlan(l ledger, s Settings, snap *scanner.Snapshot, seen presence, users map[string][]scanner.Workload, live map[string]bool, now time.Time) (plan, error) {
	candidates := due(snap, users, now, s.Thresholds)
	r := router{routes: s.Routes, all: channelNames(s.Channels)}
	p := plan{active: map[string][]Event{}, source: sourceVersions}
	for _, ch := range s.Channels {
		name := ch.Name()
		opens, err := l.openVersions(name, seen.keys)
		if err != nil {
			return p, err
		}
		routed := route(r, candidates, name)
		resolved, err := resolve(opens, seen, live, now)
		if err != nil {
			return p, fmt.Errorf("channel %s: %w", name, err)
		}
		// A resolution goes where the version was announced, whatever the routes say now.
		candidates := routed
		if len(resolved) > 0 {
			candidates = append(slices.Clip(routed), resolved...) // a copy: routed may be shared
		}
		fresh, err := dedupe(l, name, candidates, opens, now)
		if err != nil {
			return p, err
		}
		if len(fresh) > 0 {
			sortEvents(fresh)
			p.batches = append(p.batches, queued{channel: name, messages: split(fresh, ch.MaxEvents())})
		}
		if _, ok := ch.(*alertmanager); ok {
			if active := activeEvents(routed, opens, fresh); len(active) > 0 {
				p.active[name] = active
			}
		}
	}
	return p, nil
}

func channelNames(chs []Channel) []string {
	out := make([]string, len(chs))
	for i, ch := range chs {
		out[i] = ch.Name()
	}
	return out
}

// presence is what a snapshot holds, by version key and by ARM id.
type presence struct {
	keys, ids map[string]bool
}

func newPresence(snap *scanner.Snapshot) presence {
	p := presence{keys: keys(snap), ids: make(map[string]bool, len(snap.Versions))}
	for _, v := range snap.Versions {
		p.ids[strings.ToLower(v.ID())] = true
	}
	return p
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

// resolve returns a resolution for each version the channel was told of that the snapshot no
// longer holds: recovered (live again), purged (its purge time passed) or gone (deleted before
// it). A version whose liveness is not known yet waits for the next scan.
func resolve(opens []openVersion, seen presence, live map[string]bool, now time.Time) ([]Event, error) {
	var out []Event
	for _, o := range opens {
		if seen.keys[o.key] {
			continue
		}
		var v scanner.Version
		if err := json.Unmarshal(o.raw, &v); err != nil {
			return nil, fmt.Errorf("open version %s: %w", o.key, err)
		}
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
		out = append(out, Event{ID: eventID(o.key, KindResolved, 0), Kind: KindResolved, Reason: reason,
			Version: v, Since: o.since, Severity: o.severity})
	}
	return out, nil
}

// dedupe drops the events the channel's log already holds, and dates the rest: an event about a
// version already announced keeps when it was first announced.
func dedupe(l ledger, channel string, events []Event, opens []openVersion, now time.Time) ([]Event, error) {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	logged, err := l.logged(channel, ids)
	if err != nil {
		return nil, err
	}
	openBy := byKey(opens)
	var fresh []Event
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
	return fresh, nil
}

func byKey(opens []openVersion) map[string]openVersion {
	out := make(map[string]openVersion, len(opens))
	for _, o := range opens {
		out[o.key] = o
	}
	return out
}

// activeEvents are the alerts to send again: every event due now for a version already announced
// on the channel, less those this scan queues anyway.
func activeEvents(due []Event, opens []openVersion, fresh []Event) []Event {
	openBy := byKey(opens)
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
