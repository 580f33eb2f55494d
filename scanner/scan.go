package scanner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/clock"
)

// Options configures a Scanner.
type Options struct {
	Pipeline   *arm.Pipeline
	Credential azcore.TokenCredential // nil sends no token (simulators)
	// Subscriptions to scan; empty lists every enabled subscription the identity sees.
	Subscriptions []string
	Exclude       []string
	// DefaultRetentionDays applies to galleries that report no retention of their own.
	DefaultRetentionDays int
	// Concurrency is how many scopes are read at once; the pipeline bounds requests in flight.
	Concurrency int
	Clock       clock.Clock
	Logger      *zap.Logger
}

// Scanner walks subscriptions, galleries, image definitions and their recycle bins.
type Scanner struct {
	opts Options

	mu      sync.Mutex
	clients map[string]*clients
}

// clients are one subscription's SDK clients, made once and shared by every scan.
type clients struct {
	galleries   *armcompute.GalleriesClient
	images      *armcompute.GalleryImagesClient
	softDeleted *armcompute.SoftDeletedResourceClient
	versions    *armcompute.GalleryImageVersionsClient
	vms         *armcompute.VirtualMachinesClient
	scaleSets   *armcompute.VirtualMachineScaleSetsClient
	gallery     *armcompute.GalleriesClient
}

// New returns a Scanner.
func New(opts Options) *Scanner {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.DefaultRetentionDays <= 0 {
		opts.DefaultRetentionDays = 7
	}
	return &Scanner{opts: opts, clients: map[string]*clients{}}
}

// Scan reads the whole estate once. A scope that fails is recorded in Snapshot.Errors and the scan
// goes on; an error is returned only when there was nothing to scan (no subscription could be
// listed), or ctx ended before anything was read.
func (s *Scanner) Scan(ctx context.Context) (*Snapshot, error) {
	start := s.opts.Clock.Now()
	before := s.opts.Pipeline.Counts()

	subs, err := s.subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	r := &run{s: s, complete: make(map[string]bool, len(subs))}
	p := newPool()
	for _, sub := range subs {
		r.complete[sub] = true
		p.add(func(ctx context.Context) { r.scanSubscription(ctx, p, sub) })
	}
	p.run(ctx, s.opts.Concurrency)

	after := s.opts.Pipeline.Counts()
	snap := r.snapshot(subs)
	snap.ScannedAt = start
	snap.Duration = s.opts.Clock.Now().Sub(start)
	snap.Stats.Requests = after.Requests - before.Requests
	snap.Stats.Throttled = after.Throttled - before.Throttled
	return snap, nil
}

// subscriptions is the configured list, or every enabled one the identity can list, less the
// excluded ones.
func (s *Scanner) subscriptions(ctx context.Context) ([]string, error) {
	exclude := map[string]bool{}
	for _, id := range s.opts.Exclude {
		exclude[strings.ToLower(id)] = true
	}
	var ids []string
	if len(s.opts.Subscriptions) > 0 {
		ids = s.opts.Subscriptions
	} else {
		client, err := armsubscriptions.NewClient(s.opts.Credential, s.opts.Pipeline.ClientOptions())
		if err != nil {
			return nil, fmt.Errorf("creating subscriptions client: %w", err)
		}
		for pager := client.NewListPager(nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("listing subscriptions: %w", err)
			}
			for _, sub := range page.Value {
				if sub == nil || sub.SubscriptionID == nil {
					continue
				}
				if sub.State != nil && *sub.State == armsubscriptions.SubscriptionStateDisabled {
					continue
				}
				ids = append(ids, *sub.SubscriptionID)
			}
		}
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id = strings.ToLower(id); !exclude[id] && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no subscription to scan: the identity lists none, or all are disabled or excluded")
	}
	return out, nil
}

func (s *Scanner) clientsFor(sub string) (*clients, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[sub]; ok {
		return c, nil
	}
	f, err := armcompute.NewClientFactory(sub, s.opts.Credential, s.opts.Pipeline.ClientOptions())
	if err != nil {
		return nil, fmt.Errorf("creating compute clients for subscription %s: %w", sub, err)
	}
	c := &clients{galleries: f.NewGalleriesClient(), images: f.NewGalleryImagesClient(), softDeleted: f.NewSoftDeletedResourceClient(),
		versions: f.NewGalleryImageVersionsClient(), vms: f.NewVirtualMachinesClient(), scaleSets: f.NewVirtualMachineScaleSetsClient(),
		gallery: f.NewGalleriesClient()}
	s.clients[sub] = c
	return c, nil
}

// run gathers one scan's findings from the pool's workers.
type run struct {
	s *Scanner

	mu        sync.Mutex
	versions  []Version
	galleries []Gallery
	errors    []ScopeError
	images    []ImageDefinition
	complete  map[string]bool
}

func (r *run) fail(sub, scope string, err error) {
	e := scopeError(scope, err)
	r.s.opts.Logger.Warn("scope failed", zap.String("scope", scope), zap.String("code", e.Code),
		zap.String("reason", string(e.Reason)), zap.String("message", e.Message))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, e)
	r.complete[sub] = false
}

func (r *run) scanSubscription(ctx context.Context, p *pool, sub string) {
	scope := "/subscriptions/" + sub
	c, err := r.s.clientsFor(sub)
	if err != nil {
		r.fail(sub, scope, err)
		return
	}
	for pager := c.galleries.NewListPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			r.fail(sub, scope, err)
			return
		}
		for _, item := range page.Value {
			g, err := r.gallery(sub, item)
			if err != nil {
				r.fail(sub, scope, err)
				continue
			}
			r.mu.Lock()
			r.galleries = append(r.galleries, g)
			r.mu.Unlock()
			p.add(func(ctx context.Context) { r.scanGallery(ctx, p, c, g) })
		}
	}
}

func (r *run) gallery(sub string, item *armcompute.Gallery) (Gallery, error) {
	if item == nil || item.ID == nil {
		return Gallery{}, badResponse("a gallery without an id")
	}
	id, err := azarm.ParseResourceID(*item.ID)
	if err != nil {
		return Gallery{}, badResponse(fmt.Sprintf("gallery id %q: %v", *item.ID, err))
	}
	g := Gallery{ID: *item.ID, SubscriptionID: sub, ResourceGroup: id.ResourceGroupName, Name: id.Name,
		Location: ShortLocation(deref(item.Location)), RetentionDays: r.s.opts.DefaultRetentionDays,
		Tags: tags(nil, item.Tags)}
	if item.Properties != nil && item.Properties.SoftDeletePolicy != nil {
		pol := item.Properties.SoftDeletePolicy
		g.SoftDeleteEnabled = pol.IsSoftDeleteEnabled != nil && *pol.IsSoftDeleteEnabled
		if pol.RetentionPeriodInDays != nil && *pol.RetentionPeriodInDays > 0 {
			g.RetentionDays = int(*pol.RetentionPeriodInDays)
		}
		if pol.GracePeriodInDays != nil && *pol.GracePeriodInDays > 0 {
			g.GraceDays = int(*pol.GracePeriodInDays)
		}
	}
	return g, nil
}

// scanGallery lists the image definitions of g, and queues a recycle-bin listing for each. A
// gallery whose soft delete is off is read too: versions deleted while it was on may still be there.
func (r *run) scanGallery(ctx context.Context, p *pool, c *clients, g Gallery) {
	for pager := c.images.NewListByGalleryPager(g.ResourceGroup, g.Name, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			r.fail(g.SubscriptionID, g.ID, err)
			return
		}
		for _, img := range page.Value {
			if img == nil || img.Name == nil {
				continue
			}
			name, t := *img.Name, tags(g.Tags, img.Tags)
			r.mu.Lock()
			r.images = append(r.images, ImageDefinition{ID: g.ID + "/images/" + name, SubscriptionID: g.SubscriptionID,
				ResourceGroup: g.ResourceGroup, Gallery: g.Name, Name: name})
			r.mu.Unlock()
			p.add(func(ctx context.Context) { r.scanImage(ctx, c, g, name, t) })
		}
	}
}

func (r *run) scanImage(ctx context.Context, c *clients, g Gallery, image string, t map[string]string) {
	scope := g.ID + "/images/" + image
	policy := Policy{RetentionDays: g.RetentionDays, GraceDays: g.GraceDays}
	var found []Version
	for pager := c.softDeleted.NewListByArtifactNamePager(g.ResourceGroup, g.Name, "Images", image, nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			r.fail(g.SubscriptionID, scope, err)
			break // keep the pages already read
		}
		for _, item := range page.Value {
			v, err := version(g, image, item, policy)
			if err != nil {
				r.fail(g.SubscriptionID, scope, err)
				continue
			}
			v.Tags = t
			found = append(found, v)
		}
	}
	r.mu.Lock()
	r.versions = append(r.versions, found...)
	r.mu.Unlock()
}

// version turns one recycle-bin entry into a priced Version.
func version(g Gallery, image string, item *armcompute.GallerySoftDeletedResource, p Policy) (Version, error) {
	if item == nil || item.Name == nil || item.Properties == nil {
		return Version{}, badResponse("a recycle-bin entry without a name or properties")
	}
	props := item.Properties
	deletedAt, err := ParseTime(deref(props.SoftDeletedTime))
	if err != nil {
		return Version{}, badResponse(fmt.Sprintf("version %s: %v", *item.Name, err))
	}
	id := deref(props.ResourceArmID)
	if id == "" {
		id = g.ID + "/images/" + image + "/versions/" + *item.Name
	}
	loc := ShortLocation(deref(item.Location))
	if loc == "" {
		loc = g.Location
	}
	times := Price(deletedAt, props.ConsumptionEndTime, props.HardDeletionTargetTime, p)
	return Version{ID: id, SubscriptionID: g.SubscriptionID, ResourceGroup: g.ResourceGroup, Gallery: g.Name,
		Image: image, Version: *item.Name, Location: loc, SoftDeletedAt: deletedAt,
		ConsumptionEndsAt: times.ConsumptionEndsAt, PurgeAt: times.PurgeAt, PurgeAtSource: times.PurgeAtSource}, nil
}

func (r *run) snapshot(subs []string) *Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	SortVersions(r.versions)
	slices.SortFunc(r.galleries, func(a, b Gallery) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(r.errors, func(a, b ScopeError) int { return strings.Compare(a.Scope, b.Scope) })
	slices.SortFunc(r.images, func(a, b ImageDefinition) int { return strings.Compare(a.ID, b.ID) })
	snap := &Snapshot{Versions: r.versions, Galleries: r.galleries, Errors: r.errors, Images: r.images,
		Subscriptions: make([]Subscription, len(subs))}
	if snap.Versions == nil {
		snap.Versions = []Version{}
	}
	for i, sub := range subs {
		snap.Subscriptions[i] = Subscription{ID: sub, Complete: r.complete[sub]}
	}
	snap.Stats = Stats{Subscriptions: len(subs), Galleries: len(r.galleries), Images: len(r.images), Versions: len(r.versions)}
	return snap
}

// SortVersions orders versions soonest purge first, then by id, so output is stable.
func SortVersions(vs []Version) {
	slices.SortFunc(vs, func(a, b Version) int {
		return cmp.Or(a.PurgeAt.Compare(b.PurgeAt), strings.Compare(a.ID, b.ID))
	})
}

// ShortLocation turns a display name such as "West US" into ARM's short form "westus".
func ShortLocation(display string) string {
	return strings.ToLower(strings.ReplaceAll(display, " ", ""))
}

func logID(id string) zap.Field  { return zap.String("id", id) }
func logErr(err error) zap.Field { return zap.Error(err) }

type badResponseError string

func (e badResponseError) Error() string { return string(e) }

func badResponse(msg string) error { return badResponseError(msg) }

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
