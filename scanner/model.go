package scanner

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Snapshot is the result of one scan. It is never modified after Scan returns it (but for its
// versions' Triage and Consumed, which the daemon sets before anyone else reads it); share freely.
type Snapshot struct {
	ScannedAt time.Time     `json:"scannedAt"`
	Duration  time.Duration `json:"-"`
	// Versions are sorted by PurgeAt, soonest first, then by ID.
	Versions      []Version      `json:"versions"`
	Galleries     []Gallery      `json:"galleries"`
	Errors        []ScopeError   `json:"errors"`
	Subscriptions []Subscription `json:"-"`
	// Images are the image definitions read, for the audit.
	Images []ImageDefinition `json:"-"`
	Stats  Stats             `json:"-"`
	// Consumed are other publishers' image versions the workloads use that their publisher
	// soft-deleted: the audit's, which the daemon sets for the notifier.
	Consumed []ConsumedVersion `json:"-"`
}

// ImageDefinition is one image definition of a gallery.
type ImageDefinition struct {
	ID             string
	SubscriptionID string
	ResourceGroup  string
	Gallery        string
	Name           string
}

// Definition is what the versions of one image definition share: their names above the version's
// own, and the tags notifications route by. The scanner makes one per image definition listed and
// every version of it points there.
type Definition struct {
	SubscriptionID string `json:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup"`
	Gallery        string `json:"gallery"`
	Image          string `json:"image"`
	// Tags are the gallery's tags overlaid with the image definition's, for notification routes.
	Tags map[string]string `json:"-"`
}

// Version is one soft-deleted image version, priced in time. What its image definition's versions
// share is kept once (Definition), and its ARM id is not kept but built when asked for (ID): at
// 100,000 versions a snapshot's versions take 13 MB rather than the 37 MB of a struct with every
// name and the id in it. The Definition is never nil in a version the scanner made or a decoder
// accepted.
type Version struct {
	*Definition
	Version string `json:"version"`
	// Location is ARM's short form, e.g. westus.
	Location          string    `json:"location"`
	SoftDeletedAt     time.Time `json:"softDeletedAt"`
	ConsumptionEndsAt time.Time `json:"consumptionEndsAt"`
	PurgeAt           time.Time `json:"purgeAt"`
	// PurgeAtSource says whether PurgeAt came from the service or was computed from the policy.
	PurgeAtSource Source `json:"purgeAtSource"`
	// Triage is what internal/triage decided of the version: nil until the daemon judges it
	// (after the audit, before it publishes the snapshot: the one write to a snapshot after Scan),
	// then the reasons it is not routine, empty when it is routine.
	Triage []string `json:"-"`
	// DeletedBy is who deleted it, from the Activity Log: set by internal/deleters as Triage is,
	// nil while not known, and then DeletedByUnknown says why ("" until anyone asked).
	DeletedBy        *Deletion `json:"deletedBy,omitempty"`
	DeletedByUnknown string    `json:"deletedByUnknown,omitempty"`
	// RetainedBytes is what its replicas hold while it waits in the bin, billed until the purge:
	// the provisioned size of its disks times its regions, as seen while it was live (an upper
	// bound; internal/retained sets it); 0 when not known.
	RetainedBytes int64 `json:"retainedBytes,omitempty"`
}

// Routine reports whether the version was judged routine: superseded, unused, deleted as
// expected. A version not judged is not routine.
func (v Version) Routine() bool { return v.Triage != nil && len(v.Triage) == 0 }

// UnmarshalJSON decodes a version as encoding/json would, with a Definition of its own even when
// the data names none: state files are read back, and a promoted name must never be a nil
// dereference.
func (v *Version) UnmarshalJSON(data []byte) error {
	type plain Version // the fields without the methods, so that this is not called again
	p := plain{Definition: &Definition{}}
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*v = Version(p)
	return nil
}

// ID is the version's own ARM id (.../galleries/G/images/I/versions/V), not its recycle-bin id.
func (v Version) ID() string { return v.Ref().ID() }

// Ref names the version; only its name when it has no Definition (an event about no version).
func (v Version) Ref() VersionRef {
	if v.Definition == nil {
		return VersionRef{Version: v.Version}
	}
	return VersionRef{SubscriptionID: v.SubscriptionID, ResourceGroup: v.ResourceGroup, Gallery: v.Gallery, Image: v.Image,
		Version: v.Version}
}

// CompareIDs orders a and b as strings.Compare orders their ids, without building them: sorting
// 100,000 versions by id would otherwise build 3 million ids.
func CompareIDs(a, b *Version) int {
	return compareJoined(a.Ref().idParts(), b.Ref().idParts())
}

// idParts are the strings the version's id joins.
func (r VersionRef) idParts() [10]string {
	return [10]string{"/subscriptions/", r.SubscriptionID, "/resourceGroups/", r.ResourceGroup,
		"/providers/Microsoft.Compute/galleries/", r.Gallery, "/images/", r.Image, "/versions/", r.Version}
}

// compareJoined compares the concatenation of a's strings with that of b's, byte by byte.
func compareJoined(a, b [10]string) int {
	i, j, x, y := 0, 0, 0, 0 // the part, and the offset in it, of a and of b
	for {
		for i < len(a) && x == len(a[i]) {
			i, x = i+1, 0
		}
		for j < len(b) && y == len(b[j]) {
			j, y = j+1, 0
		}
		switch {
		case i == len(a) && j == len(b):
			return 0
		case i == len(a):
			return -1
		case j == len(b):
			return 1
		}
		n := min(len(a[i])-x, len(b[j])-y)
		if c := strings.Compare(a[i][x:x+n], b[j][y:y+n]); c != 0 {
			return c
		}
		x, y = x+n, y+n
	}
}

// Source says where a time came from.
type Source string

const (
	SourceService  Source = "service"
	SourceComputed Source = "computed"
)

// Gallery is one gallery and its soft-delete policy as purgewatch applies it.
type Gallery struct {
	ID                string `json:"id"`
	SubscriptionID    string `json:"subscriptionId"`
	ResourceGroup     string `json:"resourceGroup"`
	Name              string `json:"name"`
	Location          string `json:"location"`
	SoftDeleteEnabled bool   `json:"softDeleteEnabled"`
	// RetentionDays and GraceDays are the gallery's own values, or the configured default
	// retention and no grace when it reports none.
	RetentionDays int               `json:"retentionDays"`
	GraceDays     int               `json:"graceDays"`
	Tags          map[string]string `json:"-"`
}

// RootScope is the scope of a failure of the whole scan: no token, or no subscription list.
const RootScope = "/"

// ScopeError is a part of the estate that could not be read; the scan went on without it.
type ScopeError struct {
	// Scope is the ARM id of the subscription, gallery or image definition that failed, or
	// RootScope when the scan could read nothing at all.
	Scope   string `json:"scope"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Reason is the error's class for metrics: throttled, forbidden, not_found, server_error,
	// timeout or bad_response.
	Reason Reason `json:"-"`
}

// Subscription is one subscription's part of a scan.
type Subscription struct {
	ID string
	// Complete is true when every scope under the subscription was read.
	Complete bool
	// Read is true when at least its gallery list was read.
	Read bool
}

// Stats counts what a scan covered and cost.
type Stats struct {
	Subscriptions, Galleries, Images, Versions int
	Requests, Throttled                        int64
	// DiscoveryFallback says why Resource Graph discovery was given up for the ARM walk in this
	// scan; "" when it was not, or was not asked for.
	DiscoveryFallback string
	// BinsCarried counts the recycle bins an incremental scan did not list, nothing saying they
	// changed: their versions are those of their last listing.
	BinsCarried int
	// RowsOutOfScope counts the Resource Graph gallery rows dropped as outside the configured
	// subscriptions or management groups (or naming another subscription than their own).
	RowsOutOfScope int
	// DeletedInFuture counts the versions whose softDeletedTime lies more than five minutes
	// ahead of the scan: a clock that is off, here or at ARM.
	DeletedInFuture int
}

// Failed reports whether the scan read nothing at all: no subscription's gallery list.
func (s *Snapshot) Failed() bool {
	for _, sub := range s.Subscriptions {
		if sub.Read {
			return false
		}
	}
	return true
}

// Partial reports whether some scopes failed.
func (s *Snapshot) Partial() bool { return len(s.Errors) > 0 }

// Complete reports whether the scan read every scope it should: the only all-clear.
func (s *Snapshot) Complete() bool { return !s.Failed() && !s.Partial() }

// Coverage is how much of the estate a watcher has seen, across scans: the only all-clear is
// Complete. The daemon keeps it; notifications announce a long blindness from it.
type Coverage struct {
	Complete bool
	// Since is when the estate was last seen whole, or when watching began if it never was.
	Since time.Time
	// Errors are the latest scan's failures.
	Errors []ScopeError
}

// SortVersions orders versions soonest purge first, then by id, so output is stable.
func SortVersions(vs []Version) {
	slices.SortFunc(vs, func(a, b Version) int {
		return cmp.Or(a.PurgeAt.Compare(b.PurgeAt), CompareIDs(&a, &b))
	})
}

// ShortLocation turns a display name such as "West US" into ARM's short form "westus".
func ShortLocation(display string) string {
	return strings.ToLower(strings.ReplaceAll(display, " ", ""))
}
