package notify

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/purgewatch/purgewatch/internal/config"
)

// Metrics are the notifier's Prometheus metrics.
type Metrics struct {
	total     *prometheus.CounterVec
	pending   *prometheus.GaugeVec
	dead      *prometheus.GaugeVec
	oldest    *prometheus.GaugeVec
	recovered prometheus.Gauge
	size      prometheus.Gauge
	muted     *prometheus.CounterVec
	pushing   prometheus.Gauge
}

// Reasons of purgewatch_notifications_suppressed_total.
const (
	suppressedSilenced = "silenced"
	suppressedRoutine  = "routine"
)

// suppressed counts n notifications not sent on channel, and why.
func (m *Metrics) suppressed(channel, reason string, n int) {
	if m != nil {
		m.muted.WithLabelValues(channel, reason).Add(float64(n))
	}
}

// results of purgewatch_notifications_total.
var results = []string{"sent", "failed", "resent", "dead"}

// NewMetrics registers the notification metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "purgewatch_notifications_total",
			Help: "Events per channel and outcome: sent (delivered), failed (an attempt failed; kept for retry), resent (an attempt repeated a message already tried, which the receiver may have had), dead (refused for good; kept as a dead letter).",
		}, []string{"channel", "type", "result"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "purgewatch_notifications_pending",
			Help: "Events queued for the channel and not yet delivered.",
		}, []string{"channel"}),
		dead: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "purgewatch_notifications_dead_letters",
			Help: "Messages the channel's receiver refused for good (a 4xx), kept until `purgewatch notify retry --channel C`.",
		}, []string{"channel"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "purgewatch_notifications_oldest_pending_timestamp_seconds",
			Help: "When the channel's oldest undelivered message was queued (Unix time); absent when nothing waits. time() minus it is how long people have not been warned.",
		}, []string{"channel"}),
		recovered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "purgewatch_notify_state_recovered",
			Help: "1 when the notification state file was corrupt at start and was moved aside: warnings already sent may be sent again.",
		}),
	}
	m.size = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "purgewatch_notify_state_bytes",
		Help: "Size of the notification state file: it holds what is in the recycle bins and what left them within notify.keep.",
	})
	m.muted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "purgewatch_notifications_suppressed_total",
		Help: "Notifications not sent, per channel and why: silenced (a silence muted the event; counted once however long it stays muted) or routine (a threshold a routine version crossed, left to the digest or to the page by notify.routine).",
	}, []string{"channel", "reason"})
	m.pushing = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "purgewatch_notify_alertmanager_pushing",
		Help: "1 when an alertmanager channel pushes the version alerts: the shipped rules for the same states stand down, so that Alertmanager holds one alert per version state, not one from each side.",
	})
	reg.MustRegister(m.total, m.pending, m.dead, m.oldest, m.recovered, m.size, m.muted, m.pushing)
	return m
}

// channels records what the configured channels are: whether one pushes to Alertmanager.
func (m *Metrics) channels(chs []Channel) {
	if m == nil {
		return
	}
	pushing := 0.0
	for _, ch := range chs {
		if ch.Type() == config.ChannelAlertmanager {
			pushing = 1
		}
	}
	m.pushing.Set(pushing)
}

func (m *Metrics) init(ch Channel) {
	if m == nil {
		return
	}
	for _, r := range results {
		m.total.WithLabelValues(ch.Name(), ch.Type(), r)
	}
	m.pending.WithLabelValues(ch.Name())
	m.dead.WithLabelValues(ch.Name())
	for _, r := range []string{suppressedSilenced, suppressedRoutine} {
		m.muted.WithLabelValues(ch.Name(), r)
	}
}

func (m *Metrics) count(ch Channel, result string, events int) {
	if m == nil {
		return
	}
	m.total.WithLabelValues(ch.Name(), ch.Type(), result).Add(float64(events))
}

func (m *Metrics) recoveredState(yes bool) {
	if m == nil {
		return
	}
	if yes {
		m.recovered.Set(1)
	} else {
		m.recovered.Set(0)
	}
}
