package notify

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/purgewatch/purgewatch/internal/state"
)

// Ledger is what the stages read of the notification log: the state file, or nothing for a
// preview that cannot read it.
type Ledger interface {
	OpenVersions(channel string, present map[string]bool) ([]state.OpenVersion, error)
	Logged(channel string, keys []state.Key) (map[string]bool, error)
	BlindEpisode(channel string) (json.RawMessage, error)
}

// Outbox is what delivery reads and records: the messages waiting per channel, the dead
// letters, and each channel's last sends.
type Outbox interface {
	Enqueue(messages []state.Message, now time.Time) error
	Head(channel string) (*state.Pending, error)
	Delivered(channel string, p *state.Pending, events []state.Event, at time.Time) error
	Failed(channel string, p *state.Pending, ended, next time.Time, cause string) error
	Bury(channel string, p *state.Pending, at time.Time, status int, answer, cause string) error
	Requeue(channel string, now time.Time) (int, error)
	Letters(channel string) ([]state.Letter, error)
	Counts() (state.Tally, error)
	Sends() (map[string]*state.Sends, error)
}

// Log is the state file as the notifier keeps it (*state.File): the ledger, the outbox, and
// their housekeeping.
type Log interface {
	Ledger
	Outbox
	Prune(now time.Time, keep time.Duration, legacy state.Legacy) (removed, unreadable int, err error)
	Migrate(legacy state.Legacy) (moved, unreadable int, err error)
	Compact() (before, after int64, err error)
	Size() int64
	Path() string
	Recovered() string
}

// emptyLog is a log that has recorded nothing: every event is new.
type emptyLog struct{}

func (emptyLog) OpenVersions(string, map[string]bool) ([]state.OpenVersion, error) { return nil, nil }
func (emptyLog) Logged(string, []state.Key) (map[string]bool, error)               { return map[string]bool{}, nil }
func (emptyLog) BlindEpisode(string) (json.RawMessage, error)                      { return nil, nil }

// subject names what an event is about, for the log: a soft deletion of a version, or a blind
// episode.
func subject(e Event) string {
	if e.Scan != nil {
		return blindKey(e.Scan.Since)
	}
	if e.Digest != nil {
		return "digest@" + e.Digest.Until.UTC().Format(time.RFC3339)
	}
	if c := e.Consumed; c != nil {
		return consumedKey(*c)
	}
	return e.vkey()
}

// records are a message's events as the state file takes them: each event's JSON, and what it
// opens or closes on the channel.
func records(events []Event) ([]state.Event, error) {
	out := make([]state.Event, len(events))
	for i, e := range events {
		r := state.Event{ID: e.ID, Kind: string(e.Kind), Subject: subject(e)}
		var err error
		if r.Body, err = json.Marshal(e); err != nil {
			return nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
		switch {
		case e.Digest != nil, e.Consumed != nil: // about no version of the estate: it opens and closes nothing
		case e.Scan != nil && e.Kind == KindScanFailing:
			r.Change = state.OpensEpisode
		case e.Scan != nil:
			r.Change = state.ClosesEpisode
		case e.Kind == KindResolved:
			r.Change = state.ClosesVersion
		default:
			r.Change, r.Severity, r.Escalates = state.OpensVersion, e.Severity, e.Kind == KindExpiring
			r.Shared, r.Version = encodeOpen(e.Version)
		}
		out[i] = r
	}
	return out, nil
}

// keys are the events' names in the log: id and subject.
func keys(events []Event) []state.Key {
	out := make([]state.Key, len(events))
	for i, e := range events {
		out[i] = state.Key{ID: e.ID, Subject: subject(e)}
	}
	return out
}

// logged is what delivery records of events: their id, kind and subject.
func logged(events []Event) []state.Event {
	out := make([]state.Event, len(events))
	for i, e := range events {
		out[i] = state.Event{ID: e.ID, Kind: string(e.Kind), Subject: subject(e)}
	}
	return out
}

// decodeEvents reads a message's events back from the outbox.
func decodeEvents(raw []json.RawMessage) ([]Event, error) {
	out := make([]Event, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return nil, fmt.Errorf("event %d of the message: %w", i, err)
		}
	}
	return out, nil
}

// legacySubject reads kind and subject from a log entry of the older, whole-event form.
func legacySubject(raw json.RawMessage) (string, string, error) {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return "", "", err
	}
	return string(e.Kind), subject(e), nil
}

// blindEpisode is the channel's open scan-failing event, or nil.
func blindEpisode(l Ledger, channel string) (*Event, error) {
	raw, err := l.BlindEpisode(channel)
	if err != nil || raw == nil {
		return nil, err
	}
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("channel %s's open blind episode: %w", channel, err)
	}
	return &e, nil
}
