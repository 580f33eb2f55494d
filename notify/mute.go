package notify

import (
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/scanner"
)

// mute is the silence stage, between dedupe and enqueue: which versions an active silence mutes
// this scan. A muted event is neither sent nor logged, so when the silence ends what is still due
// is announced, as Alertmanager notifies what still fires. A silence mutes a version only for the
// reasons it had when the silence first muted it: one that turns out to be in use is heard.
type mute struct {
	by map[string]*silence.Silence // version key → the silence muting it
}

// hush remembers, per silence and version, the reasons the version had when the silence first
// muted it. The notifier keeps it across scans; entries of silences no longer active go.
type hush map[string][]string

// newMute decides for every version of snap; nil when no silence is active (the common case:
// nothing is computed).
func newMute(silences []silence.Silence, snap *scanner.Snapshot, h hush, now time.Time) *mute {
	active := slices.DeleteFunc(slices.Clone(silences), func(s silence.Silence) bool { return s.State(now) != silence.StateActive })
	for k := range h {
		if !slices.ContainsFunc(active, func(s silence.Silence) bool { return strings.HasPrefix(k, s.ID+"|") }) {
			delete(h, k)
		}
	}
	if len(active) == 0 || snap == nil {
		return nil
	}
	m := &mute{by: map[string]*silence.Silence{}}
	for i := range snap.Versions {
		v := &snap.Versions[i]
		s := silence.Matching(active, v, now)
		if s == nil {
			continue
		}
		key := versionKey(*v)
		if h != nil {
			first, ok := h[s.ID+"|"+key]
			if !ok {
				h[s.ID+"|"+key] = v.Triage
			} else if slices.ContainsFunc(v.Triage, func(r string) bool { return !slices.Contains(first, r) }) {
				continue // a reason it did not have when muted: heard
			}
		}
		m.by[key] = s
	}
	return m
}

// of returns the silence muting v, or nil.
func (m *mute) of(v scanner.Version) *silence.Silence {
	if m == nil {
		return nil
	}
	return m.by[versionKey(v)]
}

// keep drops the muted events of a channel's fresh ones, and reports each it dropped. A
// resolution is never muted: it closes what the channel was told.
func (m *mute) keep(events []Event, dropped func(Event)) []Event {
	if m == nil {
		return events
	}
	out := make([]Event, 0, len(events))
	for _, e := range events {
		if e.Kind != KindResolved && e.Scan == nil && e.Digest == nil && m.of(e.Version) != nil {
			dropped(e)
			continue
		}
		out = append(out, e)
	}
	return out
}

// Silences are the notifier's silences: the API and the page read and change them there.
func (n *Notifier) Silences() *silence.Store { return n.silences }

// mute is the scan's mute stage, from the silences kept.
func (n *Notifier) mute(snap *scanner.Snapshot, now time.Time) *mute {
	if n.silences == nil {
		return nil
	}
	if err := n.silences.Prune(now); err != nil {
		n.log.Warn("cannot forget old silences", zap.Error(err))
	}
	list, err := n.silences.List()
	if err != nil {
		n.log.Error("a silence cannot be read; it mutes nothing", zap.Error(err))
	}
	return newMute(list, snap, n.hushed, now)
}

// silenced counts an event a silence kept from a channel, once per event however many scans it
// stays muted.
func (n *Notifier) silenced(channel string, e Event) {
	k := channel + "\x00" + e.ID
	if !n.counted[k] {
		n.metrics.suppressed(channel, suppressedSilenced, 1)
	}
	n.mutedNow[k] = true
}

// countRoutine counts, per channel, the thresholds routine versions crossed since the last scan
// that notify.routine (digest or quiet) kept from being announced one by one.
func (n *Notifier) countRoutine(s Settings, snap *scanner.Snapshot, now time.Time) {
	last := n.lastAnnounce
	n.lastAnnounce = now
	if last.IsZero() || s.Routine == config.RoutineWarn || n.metrics == nil {
		return
	}
	r := router{routes: s.Routes, all: channelNames(s.Channels)}
	for _, v := range snap.Versions {
		if !v.Routine() {
			continue
		}
		crossed := 0
		for _, t := range s.Thresholds {
			if at := v.PurgeAt.Add(-t); at.After(last) && !at.After(now) {
				crossed++
			}
		}
		if crossed == 0 {
			continue
		}
		for _, ch := range r.channels(v) {
			n.metrics.suppressed(ch, suppressedRoutine, crossed)
		}
	}
}
