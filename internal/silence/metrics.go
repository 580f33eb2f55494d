package silence

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var silencesDesc = prometheus.NewDesc("purgewatch_silences", "Silences kept, by state: active (muting notifications now) or expired (kept five days for the record).",
	[]string{"state"}, nil)

// collector reports the silences at scrape time, from the store's memory.
type collector struct {
	store *Store
	now   func() time.Time
}

// Collector is purgewatch_silences for s.
func Collector(s *Store, now func() time.Time) prometheus.Collector { return collector{s, now} }

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- silencesDesc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	list, _ := c.store.List() // what cannot be read is logged by the notifier each scan
	counts := map[string]int{StateActive: 0, StateExpired: 0}
	now := c.now()
	for _, s := range list {
		counts[s.State(now)]++
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(silencesDesc, prometheus.GaugeValue, float64(n), state)
	}
}
