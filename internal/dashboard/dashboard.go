// Package dashboard builds purgewatch's Grafana dashboard with the Grafana Foundation SDK. The
// JSON users import, deploy/grafana/purgewatch.json, is generated from it and kept in step by a
// test (`go test ./internal/dashboard -update` rewrites it).
package dashboard

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's stable uid, so that links to it survive re-imports.
const UID = "purgewatch"

// Query is one PromQL expression the dashboard runs.
type Query struct {
	Panel string
	Expr  string
	// DemoFills says the built-in demo estate gives it data (the end-to-end test checks it).
	DemoFills bool
}

// Queries lists every expression of the dashboard, in panel order.
func Queries() []Query {
	var out []Query
	for _, p := range panels() {
		for _, q := range p.queries {
			out = append(out, Query{Panel: p.title, Expr: q.expr, DemoFills: q.demoFills})
		}
	}
	return out
}

// JSON is the dashboard as Grafana imports it.
func JSON() ([]byte, error) {
	d, err := Build()
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Build assembles the dashboard.
//
//lint:ignore SA1019 the v1 dashboard builder stays while most Grafanas in use import v1 JSON (dashboardv2 needs Grafana 12 with the v2 API on)
func Build() (dashboard.Dashboard, error) {
	//lint:ignore SA1019 the v1 dashboard builder stays while most Grafanas in use import v1 JSON (dashboardv2 needs Grafana 12 with the v2 API on)
	b := dashboard.NewDashboardBuilder("purgewatch: Azure Compute Gallery recycle bin").
		Uid(UID).
		Description("Soft-deleted gallery image versions and when they are purged, purgewatch's scans, its ARM requests and its notifications.").
		Tags([]string{"purgewatch", "azure", "compute-gallery"}).
		Refresh("1m").
		Time("now-24h", "now").
		Timezone(common.TimeZoneUtc).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(queryVariable("subscription", "Subscription", `label_values(purgewatch_scan_success, subscription_id)`)).
		WithVariable(queryVariable("gallery", "Gallery", `label_values(purgewatch_gallery_soft_delete_enabled{subscription_id=~"$subscription"}, gallery)`))
	row := ""
	for _, p := range panels() {
		if p.row != row {
			row = p.row
			b = b.WithRow(dashboard.NewRowBuilder(row))
		}
		b = b.WithPanel(p.build())
	}
	d, err := b.Build()
	if err != nil {
		return d, fmt.Errorf("building the dashboard: %w", err)
	}
	return d, nil
}

func queryVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).Label(label).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Datasource(datasource()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).IncludeAll(true).AllValue(".*")
}

func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

type query struct {
	expr, legend string
	instant      bool
	table        bool
	demoFills    bool
}

func (q query) target(refID string) *prometheus.DataqueryBuilder {
	t := prometheus.NewDataqueryBuilder().Expr(q.expr).RefId(refID).Datasource(datasource())
	if q.legend != "" {
		t = t.LegendFormat(q.legend)
	}
	if q.instant {
		t = t.Instant()
	} else {
		t = t.Range()
	}
	if q.table {
		t = t.Format(prometheus.PromQueryFormatTable)
	}
	return t
}

// panel is one panel of the dashboard: its place, its queries and how it is drawn.
type panel struct {
	row, title, description string
	w, h                    uint32
	queries                 []query
	build                   func() cog.Builder[dashboard.Panel]
}

// Thresholds of time left: red within a day, orange within three, green beyond.
func timeLeftThresholds() *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
		{Value: nil, Color: "red"}, {Value: cog.ToPtr(86400.0), Color: "orange"}, {Value: cog.ToPtr(259200.0), Color: "green"},
	})
}

func okFailingMappings() []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: cog.ToPtr("FAILING"), Color: cog.ToPtr("red")},
			"1": {Text: cog.ToPtr("complete"), Color: cog.ToPtr("green")},
		}}}}
}

const (
	sel    = `subscription_id=~"$subscription", gallery=~"$gallery"`
	subSel = `subscription_id=~"$subscription"`
)

func panels() []panel {
	var ps []panel
	add := func(p panel, build func(p panel) cog.Builder[dashboard.Panel]) {
		p.build = func() cog.Builder[dashboard.Panel] { return build(p) }
		ps = append(ps, p)
	}
	add(panel{row: "Soft-deleted versions", title: "Soft-deleted versions, soonest purge first",
		description: "Every version in the recycle bins, with the time left until it is purged for good. Red: within a day; orange: within three.",
		w:           24, h: 10, queries: []query{{expr: `purgewatch_soft_deleted_version_purge_timestamp_seconds{` + sel + `} - time()`, instant: true, table: true, demoFills: true}}},
		timeLeftTable("Purged in"))
	add(panel{row: "Soft-deleted versions", title: "Becoming unusable within three days",
		description: "Versions in galleries with a grace period whose retention ends soon: from then on VMs and scale-outs from them fail, days before the purge.",
		w:           24, h: 6, queries: []query{{expr: `(purgewatch_soft_deleted_version_consumption_end_timestamp_seconds{` + sel + `} - time() > 0 < 259200) and purgewatch_soft_deleted_version_consumption_end_timestamp_seconds{` + sel + `} < purgewatch_soft_deleted_version_purge_timestamp_seconds{` + sel + `}`, instant: true, table: true, demoFills: true}}},
		timeLeftTable("Unusable in"))
	add(panel{row: "Soft-deleted versions", title: "Purge timeline: time left per version",
		description: "Time left until each version is purged; the lines reach zero at the purge.",
		w:           16, h: 9, queries: []query{{expr: `purgewatch_soft_deleted_version_purge_timestamp_seconds{` + sel + `} - time()`,
			legend: "{{gallery}}/{{image}}/{{version}}", demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := timeseries.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
				Unit("s").Thresholds(timeLeftThresholds()).
				ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLineAndArea))
			return withTargets(b, p)
		})
	add(panel{row: "Soft-deleted versions", title: "Recycle bin size per gallery", description: "Soft-deleted versions each gallery holds, and is billed for until they are purged.",
		w: 8, h: 9, queries: []query{{expr: `sum by (subscription_id, gallery) (purgewatch_soft_deleted_versions{` + sel + `})`, legend: "{{gallery}}", instant: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := bargauge.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
				Orientation(common.VizOrientationHorizontal).Min(0).Decimals(0)
			return withTargets(b, p)
		})
	add(panel{row: "Soft-deleted versions", title: "Galleries with soft delete off", description: "A version deleted from these galleries is gone at once, with no recycle bin.",
		w: 12, h: 7, queries: []query{{expr: `purgewatch_gallery_soft_delete_enabled{` + sel + `} == 0`, instant: true, table: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := table.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
				WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
					"excludeByName": map[string]any{"Time": true, "Value": true, "__name__": true, "job": true, "instance": true},
					"renameByName":  map[string]any{"gallery": "Gallery", "subscription_id": "Subscription", "resource_group": "Resource group", "location": "Location"},
				}})
			return withTargets(b, p)
		})
	add(panel{row: "Soft-deleted versions", title: "Unusable but still recoverable", description: "Versions past their retention, in their grace period: VMs and scale-outs from them fail.",
		w: 12, h: 7, queries: []query{{expr: `count(purgewatch_soft_deleted_version_consumption_end_timestamp_seconds{` + sel + `} <= time() and purgewatch_soft_deleted_version_purge_timestamp_seconds{` + sel + `} > time()) or vector(0)`, instant: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := stat.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
				Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
					{Value: nil, Color: "green"}, {Value: cog.ToPtr(1.0), Color: "purple"}}))
			return withTargets(b, p)
		})

	add(panel{row: "Soft-deleted versions", title: "Still used by VMs and scale sets",
		description: "Workloads created from a soft-deleted version: they cannot be re-created or scaled out once it is unusable. From the audit.",
		w:           12, h: 7, queries: []query{{expr: `purgewatch_soft_deleted_version_references{` + sel + `} > 0`, instant: true, table: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := table.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
				WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
					"excludeByName": map[string]any{"Time": true, "__name__": true, "job": true, "instance": true},
					"renameByName": map[string]any{"Value": "Workloads", "kind": "Kind", "gallery": "Gallery", "image": "Image", "version": "Version",
						"subscription_id": "Subscription", "resource_group": "Resource group", "location": "Location"},
				}})
			return withTargets(b, p)
		})
	add(panel{row: "Soft-deleted versions", title: "Audit findings", description: "The last audit's findings by check; `purgewatch audit` or the status page lists them.",
		w: 12, h: 7, queries: []query{{expr: `sum by (severity, check) (purgewatch_audit_findings)`, legend: "{{severity}}: {{check}}", instant: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := bargauge.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
				Orientation(common.VizOrientationHorizontal).Min(0).Decimals(0)
			return withTargets(b, p)
		})

	add(panel{row: "Scans", title: "Whole estate seen by the last scan", description: "FAILING: the last scan could not read every scope (after a credential failure, any). What the dashboard shows is then no all-clear.",
		w: 12, h: 6, queries: []query{{expr: `purgewatch_scan_healthy`, instant: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := stat.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
				Mappings(okFailingMappings()).ColorMode(common.BigValueColorModeBackground)
			return withTargets(b, p)
		})
	add(panel{row: "Scans", title: "Since the estate was last seen whole", description: "Decades mean never since purgewatch started.", w: 12, h: 6,
		queries: []query{{expr: `time() - purgewatch_last_complete_scan_timestamp_seconds`, instant: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := stat.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).Unit("s").
				Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
					{Value: nil, Color: "green"}, {Value: cog.ToPtr(3600.0), Color: "red"}}))
			return withTargets(b, p)
		})
	add(panel{row: "Scans", title: "Last scan complete, per subscription", description: "FAILING: some scope could not be read; its last good data is still shown.",
		w: 12, h: 6, queries: []query{{expr: `purgewatch_scan_success{` + subSel + `}`, legend: "{{subscription_id}}", instant: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := stat.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
				Mappings(okFailingMappings()).ColorMode(common.BigValueColorModeBackground)
			return withTargets(b, p)
		})
	add(panel{row: "Scans", title: "Since the last complete scan", w: 12, h: 6,
		queries: []query{{expr: `time() - purgewatch_scan_last_success_timestamp_seconds{` + subSel + `}`, legend: "{{subscription_id}}", instant: true, demoFills: true}}},
		func(p panel) cog.Builder[dashboard.Panel] {
			b := stat.NewPanelBuilder().Title(p.title).Span(p.w).Height(p.h).Datasource(datasource()).Unit("s").
				Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
					{Value: nil, Color: "green"}, {Value: cog.ToPtr(2700.0), Color: "red"}}))
			return withTargets(b, p)
		})
	// The last scan's duration reads at any schedule; a rate of the histogram over a window
	// shorter than the schedule (15 minutes by default) has no scan in it and drew nothing.
	add(panel{row: "Scans", title: "Scan duration", description: "The last scan, and the 90th percentile of the scans of the last 6 hours.", w: 8, h: 8, queries: []query{
		{expr: `max(purgewatch_scan_last_duration_seconds)`, legend: "last", demoFills: true},
		{expr: `histogram_quantile(0.9, sum by (le) (increase(purgewatch_scan_duration_seconds_bucket[6h])))`, legend: "p90, 6 h", demoFills: true},
	}}, timeSeries("s"))
	add(panel{row: "Scans", title: "Scans by result", w: 8, h: 8, queries: []query{
		{expr: `sum by (result) (increase(purgewatch_scans_total[$__rate_interval]))`, legend: "{{result}}", demoFills: true},
	}}, timeSeries("short"))
	add(panel{row: "Scans", title: "Failed scopes by reason", w: 8, h: 8, queries: []query{
		{expr: `sum by (reason) (increase(purgewatch_scan_errors_total[$__rate_interval]))`, legend: "{{reason}}", demoFills: true},
	}}, timeSeries("short"))

	add(panel{row: "Azure Resource Manager", title: "ARM requests by operation and status", w: 12, h: 8, queries: []query{
		{expr: `sum by (operation, code) (rate(purgewatch_azure_requests_total[$__rate_interval]))`, legend: "{{operation}} {{code}}", demoFills: true},
	}}, timeSeries("reqps"))
	add(panel{row: "Azure Resource Manager", title: "Throttled ARM requests (429)", w: 6, h: 8, queries: []query{
		{expr: `sum(rate(purgewatch_azure_requests_total{code="429"}[$__rate_interval])) or vector(0)`, legend: "429", demoFills: true},
	}}, timeSeries("reqps"))
	add(panel{row: "Azure Resource Manager", title: "Read budget left per subscription", w: 6, h: 8, queries: []query{
		{expr: `purgewatch_azure_ratelimit_remaining_reads{` + subSel + `}`, legend: "{{subscription_id}}", demoFills: true},
	}}, timeSeries("short"))

	add(panel{row: "Notifications", title: "Notifications by channel and result", description: "Events delivered (sent) and failed attempts, which are kept and retried.",
		w: 8, h: 8, queries: []query{
			{expr: `sum by (channel, result) (increase(purgewatch_notifications_total[$__rate_interval]))`, legend: "{{channel}} {{result}}", demoFills: true},
		}}, timeSeries("short"))
	add(panel{row: "Notifications", title: "Dead letters", description: "Messages a receiver refused for good: fix the receiver, then purgewatch notify retry --channel NAME.",
		w: 8, h: 8, queries: []query{
			{expr: `sum by (channel) (purgewatch_notifications_dead_letters)`, legend: "{{channel}}", instant: true, demoFills: true},
		}}, func(p panel) cog.Builder[dashboard.Panel] {
		b := stat.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
			Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
				{Value: nil, Color: "green"}, {Value: cog.ToPtr(1.0), Color: "red"}}))
		return withTargets(b, p)
	})
	add(panel{row: "Notifications", title: "Waiting to be delivered", w: 8, h: 8, queries: []query{
		{expr: `sum by (channel) (purgewatch_notifications_pending)`, legend: "{{channel}}", instant: true, demoFills: true},
	}}, func(p panel) cog.Builder[dashboard.Panel] {
		b := stat.NewPanelBuilder().Title(p.title).Span(p.w).Height(p.h).Datasource(datasource()).
			Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
				{Value: nil, Color: "green"}, {Value: cog.ToPtr(1.0), Color: "orange"}}))
		return withTargets(b, p)
	})
	return ps
}

// timeLeftTable is a table of versions, soonest first, whose value column (named column) is the
// time left to a deadline, coloured by urgency.
func timeLeftTable(column string) func(p panel) cog.Builder[dashboard.Panel] {
	return func(p panel) cog.Builder[dashboard.Panel] {
		b := table.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).Datasource(datasource()).
			SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName(column)}).
			WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "__name__": true, "job": true, "instance": true},
				"indexByName":   map[string]any{"Value": 0, "gallery": 1, "image": 2, "version": 3, "subscription_id": 4, "resource_group": 5, "location": 6},
				"renameByName": map[string]any{"Value": column, "gallery": "Gallery", "image": "Image", "version": "Version",
					"subscription_id": "Subscription", "resource_group": "Resource group", "location": "Location"},
			}}).
			OverrideByName(column, []dashboard.DynamicConfigValue{
				{Id: "unit", Value: "dtdurations"},
				{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background", "mode": "basic"}},
			}).
			Thresholds(timeLeftThresholds())
		return withTargets(b, p)
	}
}

func timeSeries(unit string) func(p panel) cog.Builder[dashboard.Panel] {
	return func(p panel) cog.Builder[dashboard.Panel] {
		b := timeseries.NewPanelBuilder().Title(p.title).Description(p.description).Span(p.w).Height(p.h).
			Datasource(datasource()).Unit(unit)
		return withTargets(b, p)
	}
}

// withTargets adds a panel's queries to any of the SDK's panel builders.
func withTargets[B interface {
	cog.Builder[dashboard.Panel]
	WithTarget(target cog.Builder[variants.Dataquery]) B
}](b B, p panel) cog.Builder[dashboard.Panel] {
	for i, q := range p.queries {
		b = b.WithTarget(q.target(string(rune('A' + i))))
	}
	return b
}
