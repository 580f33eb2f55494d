// Package audit judges an estate: which workloads still depend on a soft-deleted version (the one
// finding no other tool gives), and which galleries or versions are set up so that a deletion
// goes wrong. It reads a snapshot and an inventory; it calls nothing.
package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/scanner"
)

// Severity of a finding.
type Severity string

const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Rank orders severities: critical above warning above info.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 3
	case Warning:
		return 2
	case Info:
		return 1
	}
	return 0
}

// Checks, the values of a finding's Check.
const (
	CheckPinnedVersion    = "workload-uses-soft-deleted-version"
	CheckSoftDeleteOff    = "soft-delete-off"
	CheckShortRetention   = "retention-below-minimum"
	CheckFailedVersion    = "failed-version-in-soft-delete-gallery"
	CheckLocationMismatch = "version-location-differs-from-gallery"
	CheckFlexibleScaleSet = "flexible-scale-set-uses-soft-delete-gallery"
	CheckUndeletableImage = "image-definition-holds-soft-deleted-versions"
	CheckConsumedDeleted  = "workload-uses-version-its-publisher-deleted"
)

// Checks lists every check with its severity, for metrics that start at zero.
var Checks = []struct {
	Check    string
	Severity Severity
}{
	{CheckPinnedVersion, Critical}, {CheckConsumedDeleted, Critical}, {CheckSoftDeleteOff, Warning}, {CheckShortRetention, Warning},
	{CheckFailedVersion, Warning}, {CheckLocationMismatch, Warning}, {CheckFlexibleScaleSet, Warning},
	{CheckUndeletableImage, Info},
}

// Finding is one thing to look at.
type Finding struct {
	Severity Severity `json:"severity"`
	Check    string   `json:"check"`
	// ID is the ARM id the finding is about.
	ID      string `json:"id"`
	Message string `json:"message"`
	Action  string `json:"action"`
}

// Report is an audit's result.
type Report struct {
	Findings []Finding `json:"findings"`
	// References lists, by lower-cased version id, the workloads created from a soft-deleted version.
	References map[string][]scanner.Workload `json:"-"`
	// Facts are what triage judges the versions by (Run sets them).
	Facts triage.Facts `json:"-"`
	// Sizes are what each live version read holds in its replicas, by lower-cased id (Run sets
	// them): internal/retained remembers them for when the version is deleted.
	Sizes map[string]int64 `json:"-"`
	// Consumed are the other publishers' image versions the workloads use that their publisher
	// soft-deleted, with those workloads.
	Consumed []scanner.ConsumedVersion `json:"consumed,omitempty"`
}

// Evaluate runs every check.
func Evaluate(snap *scanner.Snapshot, inv *scanner.Inventory, minRetentionDays int, now time.Time) Report {
	r := Report{References: map[string][]scanner.Workload{}}
	add := func(f Finding) { r.Findings = append(r.Findings, f) }

	soft := make(map[string]scanner.Version, len(snap.Versions))
	for _, v := range snap.Versions {
		soft[strings.ToLower(v.ID())] = v
	}
	galleries := make(map[string]scanner.Gallery, len(snap.Galleries))
	for _, g := range snap.Galleries {
		galleries[strings.ToLower(g.ID)] = g
	}

	for _, w := range inv.Workloads {
		img := strings.ToLower(w.ImageID)
		if v, ok := soft[img]; ok {
			r.References[img] = append(r.References[img], w)
			add(Finding{Severity: Critical, Check: CheckPinnedVersion, ID: w.ID,
				Message: fmt.Sprintf("%s is created from soft-deleted version %s/%s/%s: %s", kindName(w), v.Gallery, v.Image, v.Version, consequence(v, now)),
				Action:  fmt.Sprintf("recover the version (purgewatch recover %s) or move the %s to another version before %s", v.ID(), kindName(w), v.ConsumptionEndsAt.UTC().Format(time.RFC3339))})
		}
		if w.Kind == "vmss" && w.Flexible {
			if g, ok := galleryOf(galleries, img); ok && g.SoftDeleteEnabled {
				add(Finding{Severity: Warning, Check: CheckFlexibleScaleSet, ID: w.ID,
					Message: fmt.Sprintf("scale set in Flexible orchestration mode uses an image from gallery %s, which has soft delete on; Microsoft's documentation lists the two as not compatible", g.Name),
					Action:  "use Uniform orchestration, or an image from a gallery without soft delete"})
			}
		}
	}
	for _, c := range inv.Consumed {
		if !c.SoftDeleted() {
			continue
		}
		r.Consumed = append(r.Consumed, c)
		for _, w := range c.Workloads {
			add(Finding{Severity: Critical, Check: CheckConsumedDeleted, ID: w,
				Message: fmt.Sprintf("created from %s gallery image version %s/%s/%s, which its publisher deleted: %s", c.Kind, c.Gallery, c.Image, c.Version, consumedConsequence(c, now)),
				Action:  "only the gallery's publisher can recover it: ask them, or move the workload to another image version before its consumption ends"})
		}
	}
	for _, g := range snap.Galleries {
		switch {
		case !g.SoftDeleteEnabled:
			add(Finding{Severity: Warning, Check: CheckSoftDeleteOff, ID: g.ID,
				Message: fmt.Sprintf("gallery %s has soft delete off: a deleted version is gone at once", g.Name),
				Action:  "turn on softDeletePolicy.isSoftDeleteEnabled, unless immediate deletion is intended"})
		case g.RetentionDays < minRetentionDays:
			add(Finding{Severity: Warning, Check: CheckShortRetention, ID: g.ID,
				Message: fmt.Sprintf("gallery %s keeps soft-deleted versions usable for %d days, below the %d required", g.Name, g.RetentionDays, minRetentionDays),
				Action:  fmt.Sprintf("raise softDeletePolicy.retentionPeriodInDays to at least %d", minRetentionDays)})
		}
	}
	for _, lv := range inv.LiveVersions {
		g, ok := galleryOf(galleries, strings.ToLower(lv.ID))
		if !ok {
			continue
		}
		if strings.EqualFold(lv.ProvisioningState, "Failed") {
			add(Finding{Severity: Warning, Check: CheckFailedVersion, ID: lv.ID,
				Message: fmt.Sprintf("version is in Failed provisioning state in gallery %s, which has soft delete on: it cannot be deleted there", g.Name),
				Action:  "turn soft delete off, delete the version, turn soft delete on again"})
		}
		if lv.Location != "" && lv.Location != g.Location {
			add(locationFinding(lv.ID, lv.Location, g))
		}
	}
	perImage := map[string]int{}
	for _, v := range snap.Versions {
		if g, ok := galleryOf(galleries, strings.ToLower(v.ID())); ok && v.Location != "" && v.Location != g.Location {
			add(locationFinding(v.ID(), v.Location, g))
		}
		perImage[imageID(v)]++
	}
	for id, n := range perImage {
		add(Finding{Severity: Info, Check: CheckUndeletableImage, ID: id,
			Message: fmt.Sprintf("image definition cannot be deleted while its recycle bin holds %d soft-deleted version(s)", n),
			Action:  "wait for the purge, or purge the versions (purgewatch purge) if nothing needs them"})
	}
	slices.SortFunc(r.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(b.Severity.Rank(), a.Severity.Rank()), strings.Compare(a.Check, b.Check), strings.Compare(a.ID, b.ID))
	})
	return r
}

// Worst is the highest severity among findings ("" when there are none).
func (r Report) Worst() Severity {
	var worst Severity
	for _, f := range r.Findings {
		if f.Severity.Rank() > worst.Rank() {
			worst = f.Severity
		}
	}
	return worst
}

func locationFinding(id, location string, g scanner.Gallery) Finding {
	return Finding{Severity: Warning, Check: CheckLocationMismatch, ID: id,
		Message: fmt.Sprintf("version is in %s but gallery %s is in %s: soft delete does not work across locations", location, g.Name, g.Location),
		Action:  "keep the gallery, its image definitions and versions in one location"}
}

func consequence(v scanner.Version, now time.Time) string {
	if !now.Before(v.ConsumptionEndsAt) {
		return "re-creating it or scaling it out already fails"
	}
	return "from " + v.ConsumptionEndsAt.UTC().Format(time.RFC3339) + " it can no longer be re-created or scaled out"
}

func kindName(w scanner.Workload) string {
	if w.Kind == "vmss" {
		return "scale set"
	}
	return "VM"
}

// galleryOf finds the gallery an image or version id lies in.
func galleryOf(galleries map[string]scanner.Gallery, id string) (scanner.Gallery, bool) {
	i := strings.Index(id, "/images/")
	if i < 0 {
		return scanner.Gallery{}, false
	}
	g, ok := galleries[id[:i]]
	return g, ok
}

func imageID(v scanner.Version) string {
	id := v.ID()
	return id[:strings.LastIndex(id, "/versions/")]
}

// consumedConsequence says what a publisher's deletion means for the workloads.
func consumedConsequence(c scanner.ConsumedVersion, now time.Time) string {
	switch {
	case c.State == scanner.StateNotFound:
		return "it is no longer there (purged, or no longer shared): new VMs and scale-outs from it fail now"
	case c.ConsumptionEndsAt.IsZero():
		return "new VMs and scale-outs from it may fail at any time"
	case !now.Before(c.ConsumptionEndsAt):
		return "new VMs and scale-outs from it fail since " + c.ConsumptionEndsAt.UTC().Format(time.RFC3339)
	}
	return "new VMs and scale-outs from it fail from " + c.ConsumptionEndsAt.UTC().Format(time.RFC3339)
}

// Inventorier lists the workloads and live versions the audit judges; *scanner.Scanner.
type Inventorier interface {
	Inventory(ctx context.Context, subscriptions []string, images []scanner.ImageDefinition) *scanner.Inventory
}

// Run is the audit, whole: it lists the inventory snap's subscriptions hold and judges snap
// against it. It returns the scopes the inventory could not read beside the report.
func Run(ctx context.Context, s Inventorier, snap *scanner.Snapshot, minRetentionDays int, now time.Time) (Report, []scanner.ScopeError) {
	subs, images := scanner.InventoryScope(snap)
	inv := s.Inventory(ctx, subs, images)
	r := Evaluate(snap, inv, minRetentionDays, now)
	r.Facts = facts(subs, images, inv, r.References)
	r.Sizes = map[string]int64{}
	for _, lv := range inv.LiveVersions {
		if lv.Bytes > 0 {
			r.Sizes[strings.ToLower(lv.ID)] = lv.Bytes
		}
	}
	return r, inv.Errors
}

// facts are what the inventory read whole: the live versions of each image definition it listed
// without error (those that can still be used: not failed), and the subscriptions whose workloads
// it listed without error.
func facts(subs []string, images []scanner.ImageDefinition, inv *scanner.Inventory, users map[string][]scanner.Workload) triage.Facts {
	failed := map[string]bool{}
	for _, e := range inv.Errors {
		failed[strings.ToLower(e.Scope)] = true
	}
	f := triage.Facts{Live: map[string][]string{}, Users: users, Workloads: map[string]bool{}}
	for _, sub := range subs {
		scopes := scanner.WorkloadScopes(sub)
		f.Workloads[strings.ToLower(sub)] = !failed[strings.ToLower(scopes[0])] && !failed[strings.ToLower(scopes[1])]
	}
	for _, img := range images {
		if id := strings.ToLower(img.ID); !failed[id] {
			f.Live[id] = []string{}
		}
	}
	for _, lv := range inv.LiveVersions {
		id := strings.ToLower(lv.ID)
		i := strings.LastIndex(id, "/versions/")
		if i < 0 || strings.EqualFold(lv.ProvisioningState, "Failed") {
			continue
		}
		if names, ok := f.Live[id[:i]]; ok {
			f.Live[id[:i]] = append(names, lv.ID[i+len("/versions/"):])
		}
	}
	return f
}

// UsersOf are the workloads inv holds that are created from the version with id.
func UsersOf(inv *scanner.Inventory, id string) []scanner.Workload {
	var out []scanner.Workload
	for _, w := range inv.Workloads {
		if strings.EqualFold(w.ImageID, id) {
			out = append(out, w)
		}
	}
	return out
}
