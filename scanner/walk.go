package scanner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"go.uber.org/zap"
)

// run gathers one scan's findings from the pool's workers.
type run struct {
	s *Scanner

	mu        sync.Mutex
	versions  []Version
	galleries []Gallery
	errors    []ScopeError
	images    []ImageDefinition
	complete  map[string]bool // every scope under the subscription was read
	read      map[string]bool // the subscription's gallery list was read
	seen      map[string]bool // lower-cased ids already taken: a service that lists one twice
	carried   atomic.Int64    // recycle bins an incremental scan did not list
	fallback  string          // why Resource Graph was given up for the ARM walk, if it was
	// outOfScope counts the Resource Graph rows dropped as outside the scope.
	outOfScope int
}

func (r *run) fail(ctx context.Context, sub, scope string, err error) {
	e := scopeError(ctx, scope, err)
	r.s.opts.Logger.Warn("scope failed", zap.String("scope", scope), zap.String("code", e.Code),
		zap.String("reason", string(e.Reason)), zap.String("message", e.Message))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, e)
	if sub != "" {
		r.complete[sub] = false
	}
}

// take appends item under r.mu if id is new to this scan, and reports whether it was.
func take[T any](r *run, list *[]T, id string, item T) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.first(id) {
		return false
	}
	*list = append(*list, item)
	return true
}

// first reports whether id is new to this scan, and marks it taken. Callers hold r.mu.
func (r *run) first(id string) bool {
	id = strings.ToLower(id)
	if r.seen[id] {
		return false
	}
	r.seen[id] = true
	return true
}

func (r *run) scanSubscription(ctx context.Context, p *pool, sub string) {
	scope := "/subscriptions/" + sub
	c, err := r.s.clientsFor(sub)
	if err != nil {
		r.fail(ctx, sub, scope, err)
		return
	}
	var refused refusals
	err = eachPage(ctx, r.s.opts.MaxPages, c.galleries.NewListPager(nil),
		func(p armcompute.GalleriesClientListResponse) ([]*armcompute.Gallery, *string) {
			return p.Value, p.NextLink
		},
		func(page []*armcompute.Gallery) {
			for _, item := range page {
				g, err := newGallery(sub, item, r.s.opts.DefaultRetentionDays)
				if err != nil {
					failed := scope
					if item != nil && item.ID != nil && within(strings.ToLower(*item.ID), strings.ToLower(scope)) {
						failed = *item.ID // only this gallery's data is in doubt
					}
					refused.add(failed, err)
					continue
				}
				if take(r, &r.galleries, g.ID, g) {
					p.add(sub, func(ctx context.Context) { r.scanGallery(ctx, p, c, g) })
				}
			}
		})
	refused.report(ctx, r, sub)
	if err != nil {
		r.fail(ctx, sub, scope, err)
		return
	}
	r.mu.Lock()
	r.read[sub] = true
	r.mu.Unlock()
}

// maxPolicyDays bounds a gallery's retention and grace: a century, where a larger number would
// overflow the arithmetic of time.
const maxPolicyDays = 36500

// newGallery reads a gallery as ARM sent it, refusing an id or a policy that cannot be true;
// defaultRetention stands where the gallery reports no policy.
func newGallery(sub string, item *armcompute.Gallery, defaultRetention int) (Gallery, error) {
	if item == nil || item.ID == nil {
		return Gallery{}, badResponseError("a gallery without an id")
	}
	id, err := azarm.ParseResourceID(*item.ID)
	if err != nil {
		return Gallery{}, badResponseError(fmt.Sprintf("gallery id %q: %v", *item.ID, err))
	}
	g := Gallery{ID: *item.ID, SubscriptionID: sub, ResourceGroup: id.ResourceGroupName, Name: id.Name,
		Location: ShortLocation(deref(item.Location)), RetentionDays: defaultRetention,
		Tags: tags(nil, item.Tags)}
	if item.Properties != nil && item.Properties.SoftDeletePolicy != nil {
		pol := item.Properties.SoftDeletePolicy
		g.SoftDeleteEnabled = pol.IsSoftDeleteEnabled != nil && *pol.IsSoftDeleteEnabled
		for _, f := range []struct {
			name string
			in   *int32
			out  *int
		}{{"retentionPeriodInDays", pol.RetentionPeriodInDays, &g.RetentionDays}, {"gracePeriodInDays", pol.GracePeriodInDays, &g.GraceDays}} {
			switch {
			case f.in == nil || *f.in == 0:
			case *f.in < 0 || *f.in > maxPolicyDays:
				return Gallery{}, badResponseError(fmt.Sprintf("gallery %s: softDeletePolicy.%s %d is not between 0 and %d", g.Name, f.name, *f.in, maxPolicyDays))
			default:
				*f.out = int(*f.in)
			}
		}
	}
	return g, nil
}

// scanGallery lists the image definitions of g, and queues a recycle-bin listing for each. A
// gallery whose soft delete is off is read too: versions deleted while it was on may still be there.
func (r *run) scanGallery(ctx context.Context, p *pool, c *clients, g Gallery) {
	err := eachPage(ctx, r.s.opts.MaxPages, c.images.NewListByGalleryPager(g.ResourceGroup, g.Name, nil),
		func(p armcompute.GalleryImagesClientListByGalleryResponse) ([]*armcompute.GalleryImage, *string) {
			return p.Value, p.NextLink
		},
		func(page []*armcompute.GalleryImage) {
			for _, img := range page {
				if img == nil || img.Name == nil {
					continue
				}
				name, t := *img.Name, tags(g.Tags, img.Tags)
				def := ImageDefinition{ID: g.ID + "/images/" + name, SubscriptionID: g.SubscriptionID,
					ResourceGroup: g.ResourceGroup, Gallery: g.Name, Name: name}
				if take(r, &r.images, def.ID, def) {
					p.add(g.SubscriptionID, func(ctx context.Context) { r.readBin(ctx, c, g, name, t) })
				}
			}
		})
	if err != nil {
		r.fail(ctx, g.SubscriptionID, g.ID, err)
	}
}

// readBin reads one image definition's recycle bin into the scan, and returns what it held and
// whether all of it was read and priced. An entry that cannot be priced fails the image
// definition's scope, so that its last good data is kept, and the rest of the bin is read.
func (r *run) readBin(ctx context.Context, c *clients, g Gallery, image string, t map[string]string) ([]Version, bool) {
	scope := g.ID + "/images/" + image
	policy := Policy{RetentionDays: g.RetentionDays, GraceDays: g.GraceDays}
	seen := map[string]bool{}
	def := &Definition{SubscriptionID: g.SubscriptionID, ResourceGroup: g.ResourceGroup, Gallery: g.Name, Image: image, Tags: t}
	var all []Version
	var refused refusals
	err := eachPage(ctx, r.s.opts.MaxPages, c.softDeleted.NewListByArtifactNamePager(g.ResourceGroup, g.Name, "Images", image, nil),
		func(p armcompute.SoftDeletedResourceClientListByArtifactNameResponse) ([]*armcompute.GallerySoftDeletedResource, *string) {
			return p.Value, p.NextLink
		},
		func(page []*armcompute.GallerySoftDeletedResource) {
			found := make([]Version, 0, len(page))
			for _, item := range page {
				v, err := version(g, def, item, policy)
				if err != nil {
					refused.add(scope, err)
					continue
				}
				// A service that lists a version twice: ids differ only in the version's name
				// here, and names are short, so the set is per image definition.
				if name := strings.ToLower(v.Version); !seen[name] {
					seen[name] = true
					found = append(found, v)
				}
			}
			all = append(all, found...)
			r.mu.Lock()
			defer r.mu.Unlock()
			r.versions = append(r.versions, found...)
		})
	refused.report(ctx, r, g.SubscriptionID)
	if err != nil {
		r.fail(ctx, g.SubscriptionID, scope, err) // the pages already read are kept
		return nil, false
	}
	return all, refused.order == nil
}

// version turns one recycle-bin entry into a priced Version, or refuses it: a version whose times
// cannot be written as RFC 3339 would break every JSON reader downstream.
func version(g Gallery, def *Definition, item *armcompute.GallerySoftDeletedResource, p Policy) (Version, error) {
	if item == nil || item.Name == nil || item.Properties == nil {
		return Version{}, badResponseError("a recycle-bin entry without a name or properties")
	}
	props := item.Properties
	deletedAt, err := ParseTime(deref(props.SoftDeletedTime))
	if err != nil {
		return Version{}, badResponseError(fmt.Sprintf("version %s: %v", *item.Name, err))
	}
	// The entry's own resourceArmId must be the version this listing is of: an id elsewhere would
	// send warnings, and recovery commands, to another resource. The id is not kept (Version.ID
	// builds it from the names), so ARM's decoded string is garbage once checked.
	if claimed := deref(props.ResourceArmID); claimed != "" {
		if id := g.ID + "/images/" + def.Image + "/versions/" + *item.Name; !strings.EqualFold(claimed, id) {
			return Version{}, badResponseError(fmt.Sprintf("version %s: resourceArmId %q is not %s", *item.Name, claimed, id))
		}
	}
	// The location is the one copy every version in that region shares: at 100,000 versions the
	// snapshot holds each string once.
	name := *item.Name
	loc := g.Location
	if l := ShortLocation(deref(item.Location)); l != "" && l != loc {
		loc = unique.Make(l).Value()
	}
	times := Price(deletedAt, props.ConsumptionEndTime, props.HardDeletionTargetTime, p)
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"softDeletedTime", deletedAt}, {"consumptionEndTime", times.ConsumptionEndsAt}, {"hardDeletionTargetTime", times.PurgeAt}} {
		if !Representable(t.at) {
			return Version{}, badResponseError(fmt.Sprintf("version %s: %s %s is outside the years %d to %d", *item.Name, t.name,
				t.at.Format(time.RFC3339), minYear, maxYear))
		}
	}
	return Version{Definition: def, Version: name, Location: loc, SoftDeletedAt: deletedAt,
		ConsumptionEndsAt: times.ConsumptionEndsAt, PurgeAt: times.PurgeAt, PurgeAtSource: times.PurgeAtSource}, nil
}

func (r *run) snapshot(subs []string) *Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	SortVersions(r.versions)
	slices.SortFunc(r.galleries, func(a, b Gallery) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(r.errors, func(a, b ScopeError) int { return strings.Compare(a.Scope, b.Scope) })
	slices.SortFunc(r.images, func(a, b ImageDefinition) int { return strings.Compare(a.ID, b.ID) })
	r.s.found.Store(int64(len(r.versions)))
	if cap(r.versions) > len(r.versions)*9/8+64 {
		// The snapshot outlives the scan by a whole interval: not with a list's spare room.
		r.versions = slices.Clone(r.versions)
	}
	snap := &Snapshot{Versions: r.versions, Galleries: r.galleries, Errors: r.errors, Images: r.images,
		Subscriptions: make([]Subscription, len(subs))}
	if snap.Versions == nil {
		snap.Versions = []Version{}
	}
	for i, sub := range subs {
		snap.Subscriptions[i] = Subscription{ID: sub, Complete: r.complete[sub] && r.read[sub], Read: r.read[sub]}
	}
	snap.Stats = Stats{Subscriptions: len(subs), Galleries: len(r.galleries), Images: len(r.images), Versions: len(r.versions)}
	return snap
}

func tags(base map[string]string, add map[string]*string) map[string]string {
	if len(base) == 0 && len(add) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(add))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range add {
		out[k] = deref(v)
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
