// Package armsim simulates the Azure Resource Manager endpoints purgewatch reads: subscriptions,
// galleries, image definitions, image versions and the galleries' recycle bins. It serves tests,
// `--demo` and the benchmarks, with paging, per-subscription read throttling, latency and faults.
// Bodies are serialised with armcompute's own models, so they are shaped as the SDK expects.
package armsim

import (
	"fmt"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Estate is everything the simulator knows about.
type Estate struct {
	Subscriptions []Subscription `yaml:"subscriptions"`
	// Consumed are other publishers' image versions, shared with the tenant or public, that VMs
	// and scale sets name as /SharedGalleries/... or /CommunityGalleries/... image ids.
	Consumed []ConsumedImage `yaml:"consumed"`
}

// ConsumedImage is a shared-gallery (Kind shared) or community-gallery (community) image version
// of another publisher, in Location; State is its imageState (Active unless set), and a
// soft-deleted one has a ConsumptionEnd, as api-version 2026-03-03 reports.
type ConsumedImage struct {
	Kind           string    `yaml:"kind"`
	Gallery        string    `yaml:"gallery"` // the unique (shared) or public (community) name
	Image          string    `yaml:"image"`
	Version        string    `yaml:"version"`
	Location       string    `yaml:"location"`
	State          string    `yaml:"state"`
	ConsumptionEnd time.Time `yaml:"consumptionEnd"`
}

// Subscription is one subscription and its galleries.
type Subscription struct {
	ID          string `yaml:"id"`
	DisplayName string `yaml:"displayName"`
	State       string `yaml:"state"` // Enabled (default), Disabled, ...
	// ManagementGroup is the management group the subscription sits in, for Resource Graph
	// queries scoped to management groups.
	ManagementGroup string     `yaml:"managementGroup"`
	Galleries       []Gallery  `yaml:"galleries"`
	VMs             []VM       `yaml:"vms"`
	ScaleSets       []ScaleSet `yaml:"scaleSets"`
}

// VM is a virtual machine created from ImageID (a gallery image version's ARM id, or anything).
type VM struct {
	Name          string `yaml:"name"`
	ResourceGroup string `yaml:"resourceGroup"`
	Location      string `yaml:"location"`
	ImageID       string `yaml:"imageId"`
}

// ScaleSet is a virtual machine scale set; Flexible picks the Flexible orchestration mode.
type ScaleSet struct {
	Name          string `yaml:"name"`
	ResourceGroup string `yaml:"resourceGroup"`
	Location      string `yaml:"location"`
	ImageID       string `yaml:"imageId"`
	Flexible      bool   `yaml:"flexible"`
}

// Gallery is one gallery.
type Gallery struct {
	Name          string            `yaml:"name"`
	ResourceGroup string            `yaml:"resourceGroup"`
	Location      string            `yaml:"location"` // a display name, as the service returns it: "West US"
	Tags          map[string]string `yaml:"tags"`
	// SoftDelete is the gallery's softDeletePolicy; nil leaves the property out entirely.
	SoftDelete *SoftDeletePolicy `yaml:"softDelete"`
	// ServiceTimes makes the recycle bin report consumptionEndTime and hardDeletionTargetTime, as
	// api-version 2026-03-03 does; without it only softDeletedTime is returned.
	ServiceTimes bool    `yaml:"serviceTimes"`
	Images       []Image `yaml:"images"`
}

// SoftDeletePolicy mirrors softDeletePolicy; nil days are left out of the response.
type SoftDeletePolicy struct {
	Enabled       bool `yaml:"enabled"`
	RetentionDays *int `yaml:"retentionDays"`
	GraceDays     *int `yaml:"graceDays"`
}

// Image is one image definition with its live and soft-deleted versions.
type Image struct {
	Name     string            `yaml:"name"`
	Tags     map[string]string `yaml:"tags"`
	Versions []string          `yaml:"versions"`
	// Failed lists live versions (also in Versions) whose provisioning state is Failed.
	Failed []string `yaml:"failed"`
	// SizeGB is each version's OS disk (default 30); Regions the target regions beside the
	// gallery's own, each holding a replica.
	SizeGB      int           `yaml:"sizeGB"`
	Regions     []string      `yaml:"regions"`
	SoftDeleted []SoftDeleted `yaml:"softDeleted"`
}

// SoftDeleted is one version in the recycle bin.
type SoftDeleted struct {
	Version   string    `yaml:"version"`
	DeletedAt time.Time `yaml:"deletedAt"`
	// DeletedAtText, when set, is sent verbatim as softDeletedTime (odd formats, for tests).
	DeletedAtText string `yaml:"deletedAtText"`
	// Location overrides the gallery's (a display name).
	Location string `yaml:"location"`
	// DeletedBy is who deleted it, as the Activity Log tells; nil: the log has no entry (older
	// than it keeps, or never written).
	DeletedBy *Caller `yaml:"deletedBy"`
}

// LoadEstate reads an estate from a YAML file.
func LoadEstate(path string) (Estate, error) {
	var e Estate
	data, err := os.ReadFile(path)
	if err != nil {
		return e, fmt.Errorf("reading estate: %w", err)
	}
	if err := yaml.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("parsing estate %s: %w", path, err)
	}
	return e, nil
}

// retention returns the policy's days as the service applies them: 7 and 0 when not set.
func (g *Gallery) retention() (retention, grace int) {
	retention = 7
	if g.SoftDelete != nil && g.SoftDelete.RetentionDays != nil {
		retention = *g.SoftDelete.RetentionDays
	}
	if g.SoftDelete != nil && g.SoftDelete.GraceDays != nil {
		grace = *g.SoftDelete.GraceDays
	}
	return retention, grace
}

// Days is a helper for building policies in code: Days(7) is a *int.
func Days(n int) *int { return &n }
