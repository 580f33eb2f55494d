package ha

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/state"
)

// Replica is this process's part in a group of replicas: who leads, and the notification log
// it writes while it does.
type Replica struct {
	Elector *Elector
	Log     *Log
	// Gate passes scans on while this replica leads; set by Serve.
	Gate *Gate
}

// Options are what a Replica needs beyond the configuration.
type Options struct {
	Clock clock.Clock
	Log   *zap.Logger
}

// New is a replica over the state file, for the ha section h (its backend set).
func New(h config.HA, file *state.File, o Options) (*Replica, error) {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	c, err := Container(h.AzureBlob, h.LeaseDuration/3)
	if err != nil {
		return nil, err
	}
	j := NewJournal(c, uuid.NewString(), h.Identity)
	e, err := newElector(j, ElectorOptions{Duration: h.LeaseDuration, Identity: h.Identity, Clock: o.Clock, Log: o.Log})
	if err != nil {
		return nil, err
	}
	l := &Log{File: file, journal: j, elector: e, timeout: h.LeaseDuration / 3, log: o.Log, inFlight: map[string]bool{}}
	e.elected = l.sync
	return &Replica{Elector: e, Log: l}, nil
}

// Serve gates next's announcements on leadership: on taking the lease the replica reads the
// log, then announces the scan it holds and calls woken (the notifier's workers); it calls woken
// again when it stops leading, so the outbox gauges go to nothing on a standby.
func (r *Replica) Serve(next Announcer, woken func()) *Gate {
	r.Gate = NewGate(next, r.Elector.Leading)
	r.Elector.leads = func(ctx context.Context) {
		if err := r.Gate.Lead(ctx); err != nil {
			r.Elector.log.Error("announcing the scan held while standing by", zap.Error(err))
		}
		woken()
	}
	r.Elector.deposed = woken // the workers find nothing to send, and the gauges say so
	return r.Gate
}

// Collector exports who leads: purgewatch_leader, and the shared log's weight.
func (r *Replica) Collector() prometheus.Collector { return &collector{r: r} }

var (
	leaderDesc = prometheus.NewDesc("purgewatch_leader",
		"1 while this replica leads (announces and sends notifications), 0 while it stands by (ha).", []string{"identity"}, nil)
	logBytesDesc = prometheus.NewDesc("purgewatch_ha_log_bytes",
		"Bytes of the shared notification log, as this replica last read or wrote it: the records since the snapshot, and the snapshot.", []string{"part"}, nil)
)

type collector struct{ r *Replica }

func (c *collector) Describe(ch chan<- *prometheus.Desc) { ch <- leaderDesc; ch <- logBytesDesc }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	leading := 0.0
	if c.r.Elector.Leading() {
		leading = 1
	}
	ch <- prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, leading, c.r.Elector.identity)
	records, snapshot := c.r.Log.weight()
	ch <- prometheus.MustNewConstMetric(logBytesDesc, prometheus.GaugeValue, float64(records), "records")
	ch <- prometheus.MustNewConstMetric(logBytesDesc, prometheus.GaugeValue, float64(snapshot), "snapshot")
}

// weight is the journal's size: records and snapshot.
func (l *Log) weight() (records, snapshot int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.journal.size, l.journal.snapshotSize
}

// Fixed refuses a reload that changes the ha section (a reload.Component): a replica cannot
// change the lease it competes for, or start or stop competing, without a restart.
type Fixed struct{}

// Prepare refuses next when its ha section is not old's.
func (Fixed) Prepare(old, next *config.Config) (func(), error) {
	if old.HA != next.HA {
		return nil, fmt.Errorf("ha: changes only on restart (a replica cannot change the lease it competes for while it runs)")
	}
	return func() {}, nil
}
