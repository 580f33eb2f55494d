package metrics

import (
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// snapshotFamily is one metric family rendered from a snapshot. The families are declared once,
// in snapshotFamilies, as kube-state-metrics declares its FamilyGenerator lists: the rendering
// loops over the table, and docs/metrics.md's table is checked against it.
type snapshotFamily struct {
	name, help string
	labels     []string // label names, in the order documented
	// relative families are computed at every scrape from the time, and only with
	// metrics.relative: true; the others are rendered once per snapshot.
	relative bool
	// Exactly one of these makes the samples.
	gallery func(g *scanner.Gallery, inBin int) float64 // one per gallery
	version func(v *scanner.Version, now time.Time) float64
	// known, with version, leaves out the versions it is false for (a value not known).
	known      func(v *scanner.Version) bool
	references bool // one per version and kind of workload still created from it (from the audit)
	// consumed: one per other publisher's image version the workloads use that its publisher
	// soft-deleted (from the audit).
	consumed func(c *scanner.ConsumedVersion) float64
	triage   bool // one per version judged, labelled with its verdict
	// tags: one per gallery (tagsOfGalleries) or per image definition holding a version
	// (tagsOfImages), labelled with metrics.tagLabels beside labels.
	tags int
}

const (
	tagsOfGalleries = 1 + iota
	tagsOfImages
)

var (
	versionLabelNames   = []string{"subscription_id", "resource_group", "gallery", "image", "version", "location"}
	referenceLabelNames = append(versionLabelNames[:len(versionLabelNames):len(versionLabelNames)], "kind")
	triageLabelNames    = append(versionLabelNames[:len(versionLabelNames):len(versionLabelNames)], "routine", "reasons", "deleted_by")
	galleryLabelNames   = []string{"subscription_id", "resource_group", "gallery", "location"}
	binLabelNames       = []string{"subscription_id", "resource_group", "gallery"}
	consumedLabelNames  = []string{"kind", "gallery", "image", "version", "location"}
)

// snapshotFamilies in the order they are written: by name, as the registry writes its own.
var snapshotFamilies = []snapshotFamily{
	{name: "purgewatch_consumed_image_version_consumption_end_timestamp_seconds",
		help:   "When VMs and scale-outs can no longer be created from another publisher's shared (kind=shared) or community (kind=community) gallery image version that this estate's workloads use and its publisher soft-deleted (Unix time; 0 when Azure does not say, or when it is no longer there at all, purged or no longer shared: then they fail now). Only the publisher can recover it.",
		labels: consumedLabelNames, consumed: func(c *scanner.ConsumedVersion) float64 { return unix(c.ConsumptionEndsAt) }},
	{name: "purgewatch_consumed_image_version_workloads",
		help:   "VMs and scale sets created from another publisher's gallery image version that its publisher soft-deleted, or that is no longer there.",
		labels: consumedLabelNames, consumed: func(c *scanner.ConsumedVersion) float64 { return float64(len(c.Workloads)) }},
	{name: "purgewatch_gallery_info", help: "1 for each gallery, with the Azure tags metrics.tagLabels names as tag_* labels: join it to route by owner.",
		labels: []string{"subscription_id", "resource_group", "gallery"}, tags: tagsOfGalleries},
	{name: "purgewatch_gallery_soft_delete_enabled", help: "1 when the gallery has soft delete on.",
		labels: galleryLabelNames, gallery: func(g *scanner.Gallery, _ int) float64 { return boolValue(g.SoftDeleteEnabled) }},
	// In seconds, Prometheus's base unit, though Azure states both policies in days.
	{name: "purgewatch_gallery_soft_delete_grace_seconds", help: "How long a soft-deleted version stays recoverable after it stops being usable.",
		labels: galleryLabelNames, gallery: func(g *scanner.Gallery, _ int) float64 { return float64(g.GraceDays) * secondsPerDay }},
	{name: "purgewatch_gallery_soft_delete_retention_seconds", help: "How long a soft-deleted version stays usable: the gallery's retention, or the configured default.",
		labels: galleryLabelNames, gallery: func(g *scanner.Gallery, _ int) float64 { return float64(g.RetentionDays) * secondsPerDay }},
	{name: "purgewatch_image_info", help: "1 for each image definition whose recycle bin holds a version, with the tags metrics.tagLabels names as tag_* labels (an image definition's tag wins over its gallery's); the shipped rules join tag_owner and tag_team from it.",
		labels: []string{"subscription_id", "resource_group", "gallery", "image"}, tags: tagsOfImages},
	{name: "purgewatch_soft_deleted_version_consumption_end_timestamp_seconds",
		help:   "When VMs and scale-outs can no longer be created from the soft-deleted image version (Unix time).",
		labels: versionLabelNames, version: func(v *scanner.Version, _ time.Time) float64 { return unix(v.ConsumptionEndsAt) }},
	{name: "purgewatch_soft_deleted_version_deleted_timestamp_seconds", help: "When the image version was soft-deleted (Unix time).",
		labels: versionLabelNames, version: func(v *scanner.Version, _ time.Time) float64 { return unix(v.SoftDeletedAt) }},
	{name: "purgewatch_soft_deleted_version_info",
		help:   "1 for each soft-deleted image version triage judged: routine (superseded and unused) or not, why not (reasons, comma-separated), and who deleted it (deleted_by: a user principal name or an app id from the Activity Log; unknown when it does not say).",
		labels: triageLabelNames, triage: true},
	{name: "purgewatch_soft_deleted_version_purge_timestamp_seconds", help: "When the soft-deleted image version will be purged for good (Unix time).",
		labels: versionLabelNames, version: func(v *scanner.Version, _ time.Time) float64 { return unix(v.PurgeAt) }},
	{name: "purgewatch_soft_deleted_version_references",
		help:   "VMs (kind=vm) or scale sets (kind=vmss) still created from the soft-deleted image version; only versions with any.",
		labels: referenceLabelNames, references: true},
	{name: "purgewatch_soft_deleted_version_retained_bytes",
		help:   "What the soft-deleted version's replicas hold, billed until the purge: the provisioned size of its disks times the regions it was replicated to, as seen while it was live (an upper bound); only versions purgewatch saw live.",
		labels: versionLabelNames, known: func(v *scanner.Version) bool { return v.RetainedBytes > 0 },
		version: func(v *scanner.Version, _ time.Time) float64 { return float64(v.RetainedBytes) }},
	{name: "purgewatch_soft_deleted_version_seconds_until_purge", help: "Seconds until the soft-deleted image version is purged; negative when overdue.",
		labels: versionLabelNames, relative: true, version: func(v *scanner.Version, now time.Time) float64 { return v.PurgeAt.Sub(now).Seconds() }},
	{name: "purgewatch_soft_deleted_versions", help: "How many soft-deleted image versions the gallery's recycle bin holds.",
		labels: binLabelNames, gallery: func(_ *scanner.Gallery, inBin int) float64 { return float64(inBin) }},
}

// galleryLabel is a gallery's value for one of the gallery families' label names.
func galleryLabel(g *scanner.Gallery, name string) string {
	switch name {
	case "subscription_id":
		return g.SubscriptionID
	case "resource_group":
		return g.ResourceGroup
	case "gallery":
		return g.Name
	case "location":
		return g.Location
	}
	return ""
}
