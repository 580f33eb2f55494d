package notify

import (
	"github.com/robfig/cron/v3"

	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/silence"
)

// Settings are what a configuration reload may change.
type Settings struct {
	Channels   []Channel
	Routes     []config.Route
	Thresholds []time.Duration // loosest first
	// Routine is what routine versions are announced with (config.Routine*): warn, digest or quiet.
	Routine string
	// Digest is when a channel's routine digest goes out (notify.digestSchedule); nil, never.
	Digest cron.Schedule
	Retry  config.Retry
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
	// StoragePrice is metrics.storagePricePerGBMonth: the digest estimates what it lists costs.
	StoragePrice float64
}

// Notifier turns scans into notifications: Announce queues them (pipeline.go) and one worker per
// channel delivers them (deliver.go). The scan path never waits on a receiver: nothing it takes
// is held while sending.
type Notifier struct {
	state   Log
	clock   clock.Clock
	log     *zap.Logger
	metrics *Metrics

	announcing sync.Mutex // one Announce at a time: the log's open versions read at its start stay true to its end

	mu      sync.Mutex // guards s, lanes and pruned; never held while sending or reading ARM
	s       Settings
	lanes   map[string]*lane
	changed chan struct{} // tells Run that the channels changed
	pruned  time.Time     // when the log was last pruned

	// silences are the state file's (nil when it keeps none); hushed, counted (the events muted
	// at the last scan, already counted) and mutedNow (this scan's) are the mute stage's memory
	// (mute.go), and lastAnnounce when the last scan was announced: touched only under announcing.
	silences          *silence.Store
	hushed            hush
	counted, mutedNow map[string]bool
	lastAnnounce      time.Time
}

// New returns a Notifier over an open state file.
func New(log Log, s Settings, c clock.Clock, logger *zap.Logger, m *Metrics) *Notifier {
	if c == nil {
		c = clock.Real{}
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	n := &Notifier{state: log, clock: c, log: logger, metrics: m, lanes: map[string]*lane{}, changed: make(chan struct{}, 1),
		hushed: hush{}, counted: map[string]bool{}, mutedNow: map[string]bool{}}
	if b, ok := log.(silence.Backend); ok {
		n.silences = silence.NewStore(b)
	}
	if r := log.Recovered(); r != "" {
		logger.Error("the notification state file was corrupt: moved aside and started afresh; warnings already sent may be sent again",
			zap.String("stateFile", log.Path()), zap.String("movedTo", r))
	}
	m.recoveredState(log.Recovered() != "")
	// A file from before subject records: its log moves into them once, before any scan reads it.
	switch moved, unreadable, err := log.Migrate(legacySubject); {
	case err != nil:
		logger.Error("moving the notification log into the state file's records; what is left is moved at the next start", zap.Error(err))
	case moved > 0 || unreadable > 0:
		logger.Info("moved the notification log into the state file's records", zap.Int("entries", moved), zap.Int("unreadable", unreadable))
	}
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
	n.metrics.channels(s.Channels)
	for _, ch := range s.Channels {
		n.metrics.init(ch)
		n.laneLocked(ch.Name())
	}
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

// current returns the settings in effect.
func (n *Notifier) current() Settings {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.s
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

// Recovered is where a corrupt state file was moved aside at start, or "".
func (n *Notifier) Recovered() string { return n.state.Recovered() }

// pruneEvery is how often the log is pruned: often enough to stay small, rarely enough that
// reading the whole log is no cost.
const pruneEvery = time.Hour

// forget prunes the log (state.File.Prune) when pruneEvery has passed since the last time, and
// compacts the file whenever that, or a first scan's delivered outbox, left a third of it free
// (checking is two numbers; the rewrite, under a second at 100,000 versions, is rare); and says so.
func (n *Notifier) forget() {
	now := n.clock.Now()
	n.mu.Lock()
	keep, due := n.s.Keep, now.Sub(n.pruned) >= pruneEvery
	if due {
		n.pruned = now
	}
	n.mu.Unlock()
	if due && keep > 0 {
		removed, unreadable, err := n.state.Prune(now, keep, legacySubject)
		switch {
		case err != nil:
			n.log.Error("pruning the notification log", zap.Error(err))
		case unreadable > 0:
			n.log.Error("notification log records cannot be decoded; they are kept, and never pruned", zap.Int("records", unreadable))
		}
		if removed > 0 {
			n.log.Info("pruned the notification log", zap.Int("events", removed), zap.Duration("keep", keep))
		}
	}
	before, after, err := n.state.Compact()
	if err != nil {
		n.log.Error("compacting the state file", zap.String("stateFile", n.state.Path()), zap.Error(err))
	} else if after < before {
		n.log.Info("compacted the state file", zap.Int64("bytesBefore", before), zap.Int64("bytesAfter", after))
	}
	n.updateGauges()
}

func channelNames(chs []Channel) []string {
	out := make([]string, len(chs))
	for i, ch := range chs {
		out[i] = ch.Name()
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
