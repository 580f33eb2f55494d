package scanner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
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
	// MaxPages bounds one listing; 0 means DefaultMaxPages.
	MaxPages int
	// Discovery is DiscoveryARM (the default) or DiscoveryResourceGraph.
	Discovery string
	// ManagementGroups scope Resource Graph discovery when no subscription is configured.
	ManagementGroups []string
	// Incremental, with Resource Graph discovery, lists a recycle bin only when something says
	// it may have changed: its image definition's live versions changed, one of its versions
	// reached a deadline, its last listing failed, or FullEvery (default DefaultFullEvery) has
	// passed since it was listed, spread across that period.
	Incremental bool
	FullEvery   time.Duration
	// BinMemory, when set, keeps the incremental scans' memory across restarts and reloads.
	BinMemory BinMemory
	Clock     clock.Clock
	Logger    *zap.Logger
}

// Scanner walks subscriptions, galleries, image definitions and their recycle bins.
type Scanner struct {
	opts Options

	mu      sync.Mutex
	clients map[string]*clients
	// found is how many versions the last scan found: the next one sizes its list for as many,
	// rather than growing it a quarter at a time through 100,000 versions.
	found atomic.Int64
	// bins is what incremental scans remember of each recycle bin.
	bins bins
	// discoveredLive is the live versions Resource Graph gave with each image definition in the
	// last scan that read them all (lower-cased image id); the audit reads them from here.
	discoveredLive atomic.Pointer[map[string][]LiveVersion]
}

// clients are one subscription's SDK clients, made once and shared by every scan.
type clients struct {
	galleries   *armcompute.GalleriesClient
	images      *armcompute.GalleryImagesClient
	softDeleted *armcompute.SoftDeletedResourceClient
	versions    *armcompute.GalleryImageVersionsClient
	vms         *armcompute.VirtualMachinesClient
	scaleSets   *armcompute.VirtualMachineScaleSetsClient
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
	if opts.MaxPages <= 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.DefaultRetentionDays <= 0 {
		opts.DefaultRetentionDays = 7
	}
	if opts.FullEvery <= 0 {
		opts.FullEvery = DefaultFullEvery
	}
	return &Scanner{opts: opts, clients: map[string]*clients{}, bins: bins{records: map[string]*binRecord{}}}
}

// Scan reads the whole estate once. A scope that fails is recorded in Snapshot.Errors and the scan
// goes on. A failure of the whole scan (no token, no subscription list) is recorded too, under
// the scope "/", so that a blind scan is never mistaken for an empty estate; an error is returned
// only for a scanner that cannot be built.
func (s *Scanner) Scan(ctx context.Context) (*Snapshot, error) {
	start := s.opts.Clock.Now()
	before := s.opts.Pipeline.Counts()

	r := &run{s: s, complete: map[string]bool{}, read: map[string]bool{}, seen: map[string]bool{},
		versions: make([]Version, 0, s.found.Load()*9/8)}
	if s.opts.Incremental && s.opts.BinMemory != nil {
		if err := s.bins.load(s.opts.BinMemory); err != nil {
			s.opts.Logger.Warn("reading the incremental scans' memory", zap.Error(err))
		}
	}
	p := newPool(s.opts.Pipeline.Wait)
	subs, err := r.discoverOrWalk(ctx, p)
	if err != nil {
		r.fail(ctx, "", RootScope, err)
	} else {
		p.run(ctx, s.opts.Concurrency)
	}
	if s.opts.Incremental && s.opts.BinMemory != nil {
		if err := s.bins.save(s.opts.BinMemory); err != nil {
			s.opts.Logger.Warn("saving the incremental scans' memory; kept in memory and saved again next scan", zap.Error(err))
		}
	}
	if subs == nil {
		subs = s.configured() // a blind scan still names what it could not read
	}

	after := s.opts.Pipeline.Counts()
	snap := r.snapshot(subs)
	snap.ScannedAt = start
	snap.Duration = s.opts.Clock.Now().Sub(start)
	snap.Stats.Requests = after.Requests - before.Requests
	snap.Stats.Throttled = after.Throttled - before.Throttled
	snap.Stats.DiscoveryFallback = r.fallback
	snap.Stats.BinsCarried = int(r.carried.Load())
	return snap, nil
}

// configured is the configured subscription list, lower-cased and less the excluded ones.
func (s *Scanner) configured() []string {
	exclude := map[string]bool{}
	for _, id := range s.opts.Exclude {
		exclude[strings.ToLower(id)] = true
	}
	out := make([]string, 0, len(s.opts.Subscriptions))
	for _, id := range s.opts.Subscriptions {
		if id = strings.ToLower(id); !exclude[id] && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// subscriptions is the configured list, or every enabled one the identity can list, less the
// excluded ones. It first asks for a token, so that a broken credential is reported once, as
// itself, rather than as every subscription failing.
func (s *Scanner) subscriptions(ctx context.Context) ([]string, error) {
	if err := s.checkToken(ctx); err != nil {
		return nil, err
	}
	if len(s.opts.Subscriptions) > 0 {
		return s.configured(), nil
	}
	client, err := armsubscriptions.NewClient(s.opts.Credential, s.opts.Pipeline.ClientOptions())
	if err != nil {
		return nil, fmt.Errorf("creating subscriptions client: %w", err)
	}
	exclude := map[string]bool{}
	for _, id := range s.opts.Exclude {
		exclude[strings.ToLower(id)] = true
	}
	var out []string
	err = eachPage(ctx, s.opts.MaxPages, client.NewListPager(nil),
		func(p armsubscriptions.ClientListResponse) ([]*armsubscriptions.Subscription, *string) {
			return p.Value, p.NextLink
		},
		func(page []*armsubscriptions.Subscription) {
			for _, sub := range page {
				if sub == nil || sub.SubscriptionID == nil || (sub.State != nil && *sub.State == armsubscriptions.SubscriptionStateDisabled) {
					continue
				}
				if id := strings.ToLower(*sub.SubscriptionID); !exclude[id] && !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		})
	if err != nil {
		return nil, fmt.Errorf("listing subscriptions: %w", err)
	}
	if len(out) == 0 {
		return nil, errNoSubscription
	}
	return out, nil
}

// checkToken asks for a token, so that a broken credential is reported once, as itself.
func (s *Scanner) checkToken(ctx context.Context) error {
	if s.opts.Credential != nil {
		if _, err := s.opts.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.opts.Pipeline.TokenScope()}}); err != nil {
			return fmt.Errorf("%w: %w", errCredential, err)
		}
	}
	return nil
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
		versions: f.NewGalleryImageVersionsClient(), vms: f.NewVirtualMachinesClient(), scaleSets: f.NewVirtualMachineScaleSetsClient()}
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
	complete  map[string]bool // every scope under the subscription was read
	read      map[string]bool // the subscription's gallery list was read
	seen      map[string]bool // lower-cased ids already taken: a service that lists one twice
	carried   atomic.Int64    // recycle bins an incremental scan did not list
	fallback  string          // why Resource Graph was given up for the ARM walk, if it was
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
	err = eachPage(ctx, r.s.opts.MaxPages, c.galleries.NewListPager(nil),
		func(p armcompute.GalleriesClientListResponse) ([]*armcompute.Gallery, *string) {
			return p.Value, p.NextLink
		},
		func(page []*armcompute.Gallery) {
			for _, item := range page {
				g, err := r.gallery(sub, item)
				if err != nil {
					failed := scope
					if item != nil && item.ID != nil && within(strings.ToLower(*item.ID), strings.ToLower(scope)) {
						failed = *item.ID // only this gallery's data is in doubt
					}
					r.fail(ctx, sub, failed, err)
					continue
				}
				if take(r, &r.galleries, g.ID, g) {
					p.add(sub, func(ctx context.Context) { r.scanGallery(ctx, p, c, g) })
				}
			}
		})
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

func (r *run) gallery(sub string, item *armcompute.Gallery) (Gallery, error) {
	return newGallery(sub, item, r.s.opts.DefaultRetentionDays)
}

// newGallery reads a gallery as ARM sent it, refusing an id or a policy that cannot be true;
// defaultRetention stands where the gallery reports no policy.
func newGallery(sub string, item *armcompute.Gallery, defaultRetention int) (Gallery, error) {
	if item == nil || item.ID == nil {
		return Gallery{}, badResponse("a gallery without an id")
	}
	id, err := azarm.ParseResourceID(*item.ID)
	if err != nil {
		return Gallery{}, badResponse(fmt.Sprintf("gallery id %q: %v", *item.ID, err))
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
				return Gallery{}, badResponse(fmt.Sprintf("gallery %s: softDeletePolicy.%s %d is not between 0 and %d", g.Name, f.name, *f.in, maxPolicyDays))
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
					p.add(g.SubscriptionID, func(ctx context.Context) { r.scanImage(ctx, c, g, name, t) })
				}
			}
		})
	if err != nil {
		r.fail(ctx, g.SubscriptionID, g.ID, err)
	}
}

// scanImage reads one image definition's recycle bin. An entry that cannot be priced fails the
// image definition's scope, so that its last good data is kept, and the rest of the bin is read.
func (r *run) scanImage(ctx context.Context, c *clients, g Gallery, image string, t map[string]string) {
	r.listImage(ctx, c, g, image, t)
}

// listImage is scanImage returning what the bin held, and whether all of it was read and priced.
func (r *run) listImage(ctx context.Context, c *clients, g Gallery, image string, t map[string]string) ([]Version, bool) {
	scope := g.ID + "/images/" + image
	policy := Policy{RetentionDays: g.RetentionDays, GraceDays: g.GraceDays}
	seen := map[string]bool{}
	def := &Definition{SubscriptionID: g.SubscriptionID, ResourceGroup: g.ResourceGroup, Gallery: g.Name, Image: image, Tags: t}
	var all []Version
	whole := true
	err := eachPage(ctx, r.s.opts.MaxPages, c.softDeleted.NewListByArtifactNamePager(g.ResourceGroup, g.Name, "Images", image, nil),
		func(p armcompute.SoftDeletedResourceClientListByArtifactNameResponse) ([]*armcompute.GallerySoftDeletedResource, *string) {
			return p.Value, p.NextLink
		},
		func(page []*armcompute.GallerySoftDeletedResource) {
			found := make([]Version, 0, len(page))
			for _, item := range page {
				v, err := version(g, def, item, policy)
				if err != nil {
					r.fail(ctx, g.SubscriptionID, scope, err)
					whole = false
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
	if err != nil {
		r.fail(ctx, g.SubscriptionID, scope, err) // the pages already read are kept
		return nil, false
	}
	return all, whole
}

// version turns one recycle-bin entry into a priced Version, or refuses it: a version whose times
// cannot be written as RFC 3339 would break every JSON reader downstream.
func version(g Gallery, def *Definition, item *armcompute.GallerySoftDeletedResource, p Policy) (Version, error) {
	if item == nil || item.Name == nil || item.Properties == nil {
		return Version{}, badResponse("a recycle-bin entry without a name or properties")
	}
	props := item.Properties
	deletedAt, err := ParseTime(deref(props.SoftDeletedTime))
	if err != nil {
		return Version{}, badResponse(fmt.Sprintf("version %s: %v", *item.Name, err))
	}
	// The entry's own resourceArmId must be the version this listing is of: an id elsewhere would
	// send warnings, and recovery commands, to another resource. The id is not kept (Version.ID
	// builds it from the names), so ARM's decoded string is garbage once checked.
	if claimed := deref(props.ResourceArmID); claimed != "" {
		if id := g.ID + "/images/" + def.Image + "/versions/" + *item.Name; !strings.EqualFold(claimed, id) {
			return Version{}, badResponse(fmt.Sprintf("version %s: resourceArmId %q is not %s", *item.Name, claimed, id))
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
			return Version{}, badResponse(fmt.Sprintf("version %s: %s %s is outside the years %d to %d", *item.Name, t.name,
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
