package notify

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the notifier's Prometheus metrics.
type Metrics struct {
	total   *prometheus.CounterVec
	pending *prometheus.GaugeVec
}

// NewMetrics registers the notification metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "purgewatch_notifications_total",
			Help: "Events sent (result=sent) or attempted and kept for retry (result=failed), per channel.",
		}, []string{"channel", "type", "result"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "purgewatch_notifications_pending",
			Help: "Events queued for the channel and not yet delivered.",
		}, []string{"channel"}),
	}
	reg.MustRegister(m.total, m.pending)
	return m
}

func (m *Metrics) init(ch Channel) {
	for _, r := range []string{"sent", "failed"} {
		m.total.WithLabelValues(ch.Name(), ch.Type(), r)
	}
	m.pending.WithLabelValues(ch.Name())
}

func (m *Metrics) count(ch Channel, result string, events int) {
	if m == nil {
		return
	}
	m.total.WithLabelValues(ch.Name(), ch.Type(), result).Add(float64(events))
}
