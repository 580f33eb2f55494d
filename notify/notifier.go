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
	// ExternalURL is the status page's public address, linked from messages (server.externalURL).
	ExternalURL string
	// BlindAfter is how long without a complete scan before every channel is told (notify.blindAfter).
	BlindAfter time.Duration
	// Liveness answers whether a version that left the bin was recovered; nil: nobody to ask,
	// and such a version is resolved once its purge time has passed.
	Liveness Liveness
	// Keep is how long the log remembers a version that left the bin (notify.keep); 0 keeps
	// everything.
	Keep time.Duration
}

// Notifier turns snapshots into notifications: Process queues them (due → resolve → route →
// dedupe → enqueue, see stages.go) and one worker per channel delivers them (deliver.go). The
// scan path never waits on a receiver: nothing it takes is held while sending.
type Notifier struct {
	store   *Store
	clock   clock.Clock
	log     *zap.Logger
	metrics *Metrics

	mu      sync.Mutex // one Process or Watch at a time; guards s and lanes; never held while sending
	s       Settings
	lanes   map[string]*lane
	changed chan struct{} // tells Run that the channels changed
	pruned  time.Time     // when the log was last pruned
}

// New returns a Notifier over an open store.
func New(store *Store, s Settings, c clock.Clock, log *zap.Logger, m *Metrics) *Notifier {
	if c == nil {
		c = clock.Real{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	n := &Notifier{store: store, clock: c, log: log, metrics: m, lanes: map[string]*lane{}, changed: make(chan struct{}, 1)}
	if r := store.Recovered(); r != "" {
		log.Error("the notification state file was corrupt: moved aside and started afresh; warnings already sent may be sent again",
			zap.String("stateFile", store.Path()), zap.String("movedTo", r))
	}
	m.recoveredState(store.Recovered() != "")
	n.Configure(s)
	n.updateGauges()
	return n
}

// Configure applies reloaded settings; what is queued stays queued. A channel that is gone stops
// its worker (its messages wait in the state file); a new one gets a worker.
func (n *Notifier) Configure(s Settings) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.s = s
	for _, ch := range s.Channels {
		n.metrics.init(ch)
		n.laneLocked(ch.Name())
	}
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

// settings returns the settings in effect and the named channel (nil when it is gone).
func (n *Notifier) settings(name string) (Settings, Channel) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s, n.channel(name)
}

// channel is the named channel in effect, or nil; callers hold n.mu.
func (n *Notifier) channel(name string) Channel {
	for _, ch := range n.s.Channels {
		if ch.Name() == name {
			return ch
		}
	}
	return nil
}

// absent returns the lower-cased ARM ids of versions announced on some channel and no longer in
// snap: what Announce asks Settings.Liveness about before the resolve stage.
func (n *Notifier) absent(seen presence) ([]string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	present := seen.keys
	var out []string
	asked := map[string]bool{}
	for _, name := range channelNames(n.s.Channels) {
		opens, err := n.store.openVersions(name, present)
		if err != nil {
			return nil, err
		}
		for _, o := range opens {
			if present[o.key] {
				continue
			}
			var v scanner.Version
			if err := json.Unmarshal(o.raw, &v); err != nil {
				continue
			}
			if id := strings.ToLower(v.ID()); !asked[id] {
				asked[id] = true
				out = append(out, id)
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
// digest (split where the channel's limits demand), in the same transaction that logs them, and
// wakes the channels' workers. live holds, by lower-cased ARM id, whether an absent version
// exists again as a live version; an absent version missing from it is resolved later, unless its
// purge time has passed.
func (n *Notifier) Process(ctx context.Context, snap *scanner.Snapshot, live map[string]bool) error {
	return n.process(ctx, snap, newPresence(snap), nil, live)
}

// process is Process with the audit's workloads per version, for the messages.
func (n *Notifier) process(_ context.Context, snap *scanner.Snapshot, seen presence, users map[string][]scanner.Workload, live map[string]bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.clock.Now()
	p, err := makePlan(n.store, n.s, snap, seen, users, live, now)
	if err != nil {
		return err
	}
	return n.commit(p, now)
}

// commit logs and queues a plan in one transaction, hands each Alertmanager channel the alerts to
// send again, and wakes the workers. Callers hold n.mu.
func (n *Notifier) commit(p plan, now time.Time) error {
	if err := n.store.enqueue(p.batches, now); err != nil {
		return fmt.Errorf("queuing notifications: %w", err)
	}
	for _, ch := range n.s.Channels {
		if _, ok := ch.(*alertmanager); !ok {
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
	return nil
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
