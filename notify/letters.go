package notify

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/state"
)

// Letter is one message waiting in the outbox (State "pending") or refused for good ("dead"), as
// `notify outbox`, the status page and /api/v1/outbox show it.
type Letter struct {
	Channel string `json:"channel"`
	State   string `json:"state"`
	Seq     uint64 `json:"seq"`
	// Versions names what the message is about: gallery/image/version, or "scan" for blindness.
	Versions    []string  `json:"versions"`
	Events      int       `json:"events"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	DeadSince   time.Time `json:"deadSince,omitzero"`
	Status      int       `json:"status,omitempty"`
	Answer      string    `json:"answer,omitempty"`
	LastError   string    `json:"lastError,omitempty"`
}

// Letter states.
const (
	LetterPending = state.LetterPending
	LetterDead    = state.LetterDead
)

// ReadLetters lists the messages waiting and the dead letters of one channel or of all (""),
// pending first, each in order: of a running notifier's log, or of a state file opened read-only.
func ReadLetters(o Outbox, channel string) ([]Letter, error) {
	raw, err := o.Letters(channel)
	if err != nil {
		return nil, err
	}
	out := make([]Letter, len(raw))
	for i, r := range raw {
		l := Letter{Channel: r.Channel, State: r.State, Seq: r.Seq, Events: len(r.Events), Attempts: r.Attempts,
			NextAttempt: r.NextAttempt, DeadSince: r.DeadSince, Status: r.Status, Answer: r.Answer, LastError: r.LastError}
		for _, e := range r.Events {
			name, err := aboutName(e)
			if err != nil { // listed all the same: the listing is how a person finds it
				if l.LastError == "" {
					l.LastError = "events that cannot be read: " + err.Error()
				}
				continue
			}
			if !contains(l.Versions, name) {
				l.Versions = append(l.Versions, name)
			}
		}
		out[i] = l
	}
	return out, nil
}

// aboutName reads only the names of what an event is about: a listing of 100,000 waiting events
// decodes no more.
func aboutName(raw json.RawMessage) (string, error) {
	var e struct {
		Scan    json.RawMessage `json:"scan"`
		Version struct {
			Gallery string `json:"gallery"`
			Image   string `json:"image"`
			Version string `json:"version"`
		} `json:"version"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return "", err
	}
	if e.Scan != nil && string(e.Scan) != "null" {
		return "scan", nil
	}
	return e.Version.Gallery + "/" + e.Version.Image + "/" + e.Version.Version, nil
}

// Letters lists the messages waiting and the dead letters, of one channel or of all ("").
func (n *Notifier) Letters(channel string) ([]Letter, error) { return ReadLetters(n.state, channel) }

// Retry queues a channel's dead letters again, at the end of its outbox, and wakes its worker.
func (n *Notifier) Retry(channel string) (int, error) {
	n.mu.Lock()
	known := n.channel(channel) != nil
	n.mu.Unlock()
	if !known {
		return 0, fmt.Errorf("no channel named %q (notify.channels)", channel)
	}
	moved, err := n.state.Requeue(channel, n.clock.Now())
	if err != nil {
		return 0, fmt.Errorf("re-queuing the dead letters of %s: %w", channel, err)
	}
	n.lane(channel).poke()
	n.updateGauges()
	return moved, nil
}

// Sends is each configured channel's record, in configuration order, then the records of
// channels a reload removed.
func (n *Notifier) Sends() ([]state.Sends, error) {
	records, err := n.state.Sends()
	if err != nil {
		return nil, err
	}
	channels := n.current().Channels
	var out []state.Sends
	for _, ch := range channels {
		s := state.Sends{Channel: ch.Name()}
		if r := records[ch.Name()]; r != nil {
			s = *r
			delete(records, ch.Name())
		}
		s.Type = ch.Type()
		out = append(out, s)
	}
	rest := slices.SortedFunc(maps.Values(records), func(a, b *state.Sends) int { return strings.Compare(a.Channel, b.Channel) })
	for _, r := range rest {
		out = append(out, *r)
	}
	return out, nil
}
