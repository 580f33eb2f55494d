// Package scanner discovers every soft-deleted gallery image version the identity can see, prices
// each in time (when it stops being usable, when it is purged) and returns the result as an
// immutable Snapshot. Everything downstream (metrics, notify, the status page) reads snapshots and
// never calls Azure itself.
//
// Its files are grouped by concern, the prefix naming the group:
//
//   - scan.go: the Scanner and one Scan, from the subscriptions to the snapshot.
//   - walk*.go: the ARM walk, subscription → gallery → image definition → recycle bin, its
//     paged listings and the pool that keeps each subscription inside its read budget.
//   - graph*.go: Resource Graph, which finds the galleries and the bins that changed in a few
//     queries; the walk is the fallback when it cannot.
//   - bins.go: the incremental memory of recycle bins, kept between scans and restarts; a bin
//     nothing says has changed is carried forward instead of listed again.
//   - model*.go: the snapshot and its versions, their prices in time and deadlines, and the merge
//     that keeps a failed scope's last good data.
//   - document.go: the JSON document of a snapshot, streamed a version at a time.
//   - errors.go: why a scope could not be read, as a reason, the service's code and advice.
//   - find.go, live.go, inventory.go: the other reads (one version for recovery, live versions,
//     the VMs and scale sets that consume images).
package scanner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
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
	consumed    *consumedClients
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
	snap.Stats.RowsOutOfScope = r.outOfScope
	s.countFuture(snap, start)
	return snap, nil
}

// clockSkew is how far in the future a soft deletion may lie before it is a clock to doubt.
const clockSkew = 5 * time.Minute

// countFuture counts, and logs once per scan, the versions whose soft deletion lies in the
// future: ARM's clock or this machine's is off. They are kept and priced from what ARM says (the
// purge time is ARM's, when it gives one), since dropping them would hide a real deletion.
func (s *Scanner) countFuture(snap *Snapshot, now time.Time) {
	var first string
	for i := range snap.Versions {
		if v := &snap.Versions[i]; v.SoftDeletedAt.After(now.Add(clockSkew)) {
			if snap.Stats.DeletedInFuture == 0 {
				first = v.ID()
			}
			snap.Stats.DeletedInFuture++
		}
	}
	if first != "" {
		s.opts.Logger.Warn("soft deletions in the future: ARM's clock or this machine's is off (check NTP); their deadlines are computed from what ARM says",
			zap.Int("versions", snap.Stats.DeletedInFuture), zap.String("first", first))
	}
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
		versions: f.NewGalleryImageVersionsClient(), vms: f.NewVirtualMachinesClient(), scaleSets: f.NewVirtualMachineScaleSetsClient(),
		consumed: &consumedClients{shared: f.NewSharedGalleryImageVersionsClient(), community: f.NewCommunityGalleryImageVersionsClient()}}
	s.clients[sub] = c
	return c, nil
}
