// Package metrics exports purgewatch's findings to Prometheus. The soft-deleted versions and
// galleries are emitted at scrape time from the latest immutable snapshot, so a version that has
// left the recycle bin disappears at the next scan with no stale series left behind; the scan and
// ARM counters are ordinary registered metrics.
package metrics

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/scanner"
)

var (
	versionLabels = []string{"subscription_id", "resource_group", "gallery", "image", "version", "location"}
	galleryLabels = []string{"subscription_id", "resource_group", "gallery", "location"}

	purgeDesc = prometheus.NewDesc("purgewatch_soft_deleted_version_purge_timestamp_seconds",
		"When the soft-deleted image version will be purged for good (Unix time).", versionLabels, nil)
	untilPurgeDesc = prometheus.NewDesc("purgewatch_soft_deleted_version_seconds_until_purge",
		"Seconds until the soft-deleted image version is purged; negative when overdue.", versionLabels, nil)
	consumptionEndDesc = prometheus.NewDesc("purgewatch_soft_deleted_version_consumption_end_timestamp_seconds",
		"When VMs and scale-outs can no longer be created from the soft-deleted image version (Unix time).", versionLabels, nil)
	deletedDesc = prometheus.NewDesc("purgewatch_soft_deleted_version_deleted_timestamp_seconds",
		"When the image version was soft-deleted (Unix time).", versionLabels, nil)
	binSizeDesc = prometheus.NewDesc("purgewatch_soft_deleted_versions",
		"How many soft-deleted image versions the gallery's recycle bin holds.",
		[]string{"subscription_id", "resource_group", "gallery"}, nil)
	softDeleteDesc = prometheus.NewDesc("purgewatch_gallery_soft_delete_enabled",
		"1 when the gallery has soft delete on.", galleryLabels, nil)
	retentionDesc = prometheus.NewDesc("purgewatch_gallery_soft_delete_retention_days",
		"Days a soft-deleted version stays usable: the gallery's retention, or the configured default.", galleryLabels, nil)
	graceDesc = prometheus.NewDesc("purgewatch_gallery_soft_delete_grace_days",
		"Days a soft-deleted version stays recoverable after it stops being usable.", galleryLabels, nil)
	referencesDesc = prometheus.NewDesc("purgewatch_soft_deleted_version_references",
		"VMs (kind=vm) or scale sets (kind=vmss) still created from the soft-deleted image version; only versions with any.",
		append(append([]string{}, versionLabels...), "kind"), nil)
	findingsDesc = prometheus.NewDesc("purgewatch_audit_findings",
		"Findings of the last audit, by severity and check.", []string{"severity", "check"}, nil)
	scanSuccessDesc = prometheus.NewDesc("purgewatch_scan_success",
		"1 when the subscription's last scan read every scope under it.", []string{"subscription_id"}, nil)
	lastSuccessDesc = prometheus.NewDesc("purgewatch_scan_last_success_timestamp_seconds",
		"When the subscription was last scanned completely (Unix time).", []string{"subscription_id"}, nil)
)

// SnapshotCollector emits the latest published state at scrape time. It never fails a scrape: with no
// snapshot yet it emits nothing.
type SnapshotCollector struct {
	state    func() *status.State
	now      func() time.Time
	relative atomic.Bool
	series   atomic.Pointer[series] // built once per snapshot
}

// NewSnapshotCollector returns a collector reading view at each scrape; relative turns on
// purgewatch_soft_deleted_version_seconds_until_purge, computed with now.
func NewSnapshotCollector(state func() *status.State, now func() time.Time, relative bool) *SnapshotCollector {
	c := &SnapshotCollector{state: state, now: now}
	c.relative.Store(relative)
	return c
}

// SetRelative switches the relative metric on or off (config reload).
func (c *SnapshotCollector) SetRelative(on bool) { c.relative.Store(on) }

func (c *SnapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{purgeDesc, untilPurgeDesc, consumptionEndDesc, deletedDesc, binSizeDesc,
		softDeleteDesc, retentionDesc, graceDesc, scanSuccessDesc, lastSuccessDesc, referencesDesc, findingsDesc} {
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
	var refs map[string][]scanner.Workload
	if v.Audit != nil { // an audit has run: its counts start at 0
		refs = v.Audit.References
		counts := map[[2]string]int{}
		for _, f := range v.Audit.Findings {
			counts[[2]string{string(f.Severity), f.Check}]++
		}
		for _, check := range audit.Checks {
			key := [2]string{string(check.Severity), check.Check}
			ch <- prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, float64(counts[key]), key[0], key[1])
		}
	}
	if v.Snapshot == nil {
		return
	}
	s := c.series.Load()
	if s == nil || s.snap != v.Snapshot {
		s = buildSeries(v.Snapshot, refs) // an audit runs with each scan: its references change only with the snapshot
		c.series.Store(s)
	}
	for i := range s.fixed {
		ch <- &s.fixed[i]
	}
	if c.relative.Load() {
		now := c.now()
		rel := make([]gauge, len(s.versions))
		for i := range s.versions {
			rel[i] = gauge{desc: untilPurgeDesc, labels: s.versions[i].labels,
				value: &dto.Gauge{Value: proto.Float64(s.versions[i].v.PurgeAt.Sub(now).Seconds())}}
			ch <- &rel[i]
		}
	}
}

// series are a snapshot's metrics, made once: its values do not change until the next scan.
// Series are in label order, so that the registry's sort of each family finds them sorted.
type series struct {
	snap     *scanner.Snapshot
	fixed    []gauge // every series but the relative one
	versions []versionSeries
}

type versionSeries struct {
	v      *scanner.Version
	labels []*dto.LabelPair // shared by the version's four series
}

func buildSeries(snap *scanner.Snapshot, refs map[string][]scanner.Workload) *series {
	s := &series{snap: snap, versions: make([]versionSeries, len(snap.Versions)),
		fixed: make([]gauge, 0, 3*len(snap.Versions)+4*len(snap.Galleries))}
	perGallery := make(map[string]int, len(snap.Galleries))
	for i := range snap.Versions {
		ver := &snap.Versions[i]
		s.versions[i] = versionSeries{v: ver, labels: prometheus.MakeLabelPairs(purgeDesc,
			[]string{ver.SubscriptionID, ver.ResourceGroup, ver.Gallery, ver.Image, ver.Version, ver.Location})}
		perGallery[galleryKey(ver.SubscriptionID, ver.ResourceGroup, ver.Gallery)]++
	}
	sortByLabels(s.versions, func(v versionSeries) []*dto.LabelPair { return v.labels })
	for _, d := range []struct {
		desc  *prometheus.Desc
		value func(*scanner.Version) time.Time
	}{
		{purgeDesc, func(v *scanner.Version) time.Time { return v.PurgeAt }},
		{consumptionEndDesc, func(v *scanner.Version) time.Time { return v.ConsumptionEndsAt }},
		{deletedDesc, func(v *scanner.Version) time.Time { return v.SoftDeletedAt }},
	} {
		for _, vl := range s.versions {
			s.fixed = append(s.fixed, newGauge(d.desc, vl.labels, unix(d.value(vl.v))))
		}
	}
	for _, vl := range s.versions {
		kinds := map[string]int{}
		for _, w := range refs[strings.ToLower(vl.v.ID)] {
			kinds[w.Kind]++
		}
		for _, kind := range []string{"vm", "vmss"} {
			if kinds[kind] > 0 {
				labels := append(append([]*dto.LabelPair{}, vl.labels...), &dto.LabelPair{Name: proto.String("kind"), Value: proto.String(kind)})
				slices.SortFunc(labels, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
				s.fixed = append(s.fixed, newGauge(referencesDesc, labels, float64(kinds[kind])))
			}
		}
	}

	type galleryLabels struct {
		g      *scanner.Gallery
		labels []*dto.LabelPair
		bin    []*dto.LabelPair
	}
	gals := make([]galleryLabels, len(snap.Galleries))
	for i := range snap.Galleries {
		g := &snap.Galleries[i]
		gals[i] = galleryLabels{g: g,
			labels: prometheus.MakeLabelPairs(softDeleteDesc, []string{g.SubscriptionID, g.ResourceGroup, g.Name, g.Location}),
			bin:    prometheus.MakeLabelPairs(binSizeDesc, []string{g.SubscriptionID, g.ResourceGroup, g.Name})}
	}
	sortByLabels(gals, func(g galleryLabels) []*dto.LabelPair { return g.labels })
	for _, gl := range gals {
		s.fixed = append(s.fixed, newGauge(softDeleteDesc, gl.labels, boolValue(gl.g.SoftDeleteEnabled)))
	}
	for _, gl := range gals {
		s.fixed = append(s.fixed, newGauge(retentionDesc, gl.labels, float64(gl.g.RetentionDays)))
	}
	for _, gl := range gals {
		s.fixed = append(s.fixed, newGauge(graceDesc, gl.labels, float64(gl.g.GraceDays)))
	}
	sortByLabels(gals, func(g galleryLabels) []*dto.LabelPair { return g.bin })
	for _, gl := range gals {
		s.fixed = append(s.fixed, newGauge(binSizeDesc, gl.bin,
			float64(perGallery[galleryKey(gl.g.SubscriptionID, gl.g.ResourceGroup, gl.g.Name)])))
	}
	return s
}

// gauge is a read-only gauge sample whose label pairs and value are built once and shared by
// every scrape; prometheus.NewConstMetric would rebuild both each time.
type gauge struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  *dto.Gauge
}

func newGauge(desc *prometheus.Desc, labels []*dto.LabelPair, v float64) gauge {
	return gauge{desc: desc, labels: labels, value: &dto.Gauge{Value: proto.Float64(v)}}
}

func (g *gauge) Desc() *prometheus.Desc { return g.desc }

func (g *gauge) Write(m *dto.Metric) error {
	m.Label, m.Gauge = g.labels, g.value
	return nil
}

// sortByLabels orders items by their label values, in label-name order, as the registry does.
func sortByLabels[T any](items []T, labels func(T) []*dto.LabelPair) {
	slices.SortFunc(items, func(a, b T) int {
		la, lb := labels(a), labels(b)
		for i := range la {
			if c := strings.Compare(la[i].GetValue(), lb[i].GetValue()); c != 0 {
				return c
			}
		}
		return 0
	})
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
