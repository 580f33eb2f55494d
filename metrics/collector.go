// Package metrics exports purgewatch's findings to Prometheus. The soft-deleted versions and
// galleries are emitted at scrape time from the latest immutable snapshot, so a version that has
// left the recycle bin disappears at the next scan with no stale series left behind; the scan and
// ARM counters are ordinary registered metrics.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/status"
)

var (
	findingsDesc = prometheus.NewDesc("purgewatch_audit_findings",
		"Findings of the last audit, by severity and check.", []string{"severity", "check"}, nil)
	scanSuccessDesc = prometheus.NewDesc("purgewatch_scan_success",
		"1 when the subscription's last scan read every scope under it.", []string{"subscription_id"}, nil)
	lastSuccessDesc = prometheus.NewDesc("purgewatch_scan_last_success_timestamp_seconds",
		"When the subscription was last scanned completely (Unix time).", []string{"subscription_id"}, nil)
	fallbackDesc = prometheus.NewDesc("purgewatch_scan_discovery_fallback",
		"1 when the last scan was to find galleries through Azure Resource Graph but walked ARM instead (the query was refused; see the log).", nil, nil)
	futureDesc = prometheus.NewDesc("purgewatch_scan_versions_deleted_in_future",
		"Soft-deleted versions whose softDeletedTime lies ahead of the last scan: ARM's clock or this machine's is off.", nil, nil)
	outOfScopeDesc = prometheus.NewDesc("purgewatch_scan_rows_out_of_scope",
		"Resource Graph gallery rows the last scan dropped: outside the configured subscriptions or management groups, or with an id naming another subscription than their row (see the log).", nil, nil)
)

// SnapshotCollector emits, at scrape time, the small part of the published state that the
// registry carries: each subscription's scan health and the audit's findings. (The versions and
// galleries are rendered to bytes once per state: Exposition.) It never fails a scrape.
type SnapshotCollector struct {
	state func() *status.State
}

// NewSnapshotCollector returns a collector reading the published state at each scrape.
func NewSnapshotCollector(state func() *status.State) *SnapshotCollector {
	return &SnapshotCollector{state: state}
}

func (c *SnapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{scanSuccessDesc, lastSuccessDesc, findingsDesc, fallbackDesc, outOfScopeDesc, futureDesc} {
		ch <- d
	}
}

func (c *SnapshotCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.state()
	if v == nil {
		return
	}
	for _, s := range v.Subscriptions {
		ch <- prometheus.MustNewConstMetric(scanSuccessDesc, prometheus.GaugeValue, boolValue(s.Success), s.ID)
		if !s.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, unix(s.LastSuccess), s.ID)
		}
	}
	if v.Snapshot != nil {
		ch <- prometheus.MustNewConstMetric(fallbackDesc, prometheus.GaugeValue, boolValue(v.Snapshot.Stats.DiscoveryFallback != ""))
		ch <- prometheus.MustNewConstMetric(outOfScopeDesc, prometheus.GaugeValue, float64(v.Snapshot.Stats.RowsOutOfScope))
		ch <- prometheus.MustNewConstMetric(futureDesc, prometheus.GaugeValue, float64(v.Snapshot.Stats.DeletedInFuture))
	}
	if v.Audit != nil { // an audit has run: its counts start at 0
		counts := map[[2]string]int{}
		for _, f := range v.Audit.Findings {
			counts[[2]string{string(f.Severity), f.Check}]++
		}
		for _, check := range audit.Checks {
			key := [2]string{string(check.Severity), check.Check}
			ch <- prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, float64(counts[key]), key[0], key[1])
		}
	}
}

func galleryKey(sub, rg, name string) string { return sub + "\x00" + rg + "\x00" + name }

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// statusLabel is the code label of an ARM request: its HTTP status, or "error" when none came.
func statusLabel(status int) string {
	if status == 0 {
		return "error"
	}
	return strconv.Itoa(status)
}
