package scanner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcegraph/armresourcegraph"
	"go.uber.org/zap"
)

// Discovery is how a scan finds the galleries and image definitions whose recycle bins it lists.
const (
	// DiscoveryARM walks ARM: the subscriptions, each one's galleries, each gallery's image
	// definitions. The default.
	DiscoveryARM = "arm"
	// DiscoveryResourceGraph asks Azure Resource Graph for all of them in a few paged queries,
	// for the whole tenant or for management groups. The recycle bins are still listed through
	// ARM: no Resource Graph table holds them.
	DiscoveryResourceGraph = "resourcegraph"
)

// The queries Resource Graph is sent. The image definitions come with the names of their live
// versions, summarised into one row each, so that the pages follow image definitions, not
// versions.
const (
	subscriptionsQuery = `resourcecontainers
| where type =~ 'microsoft.resources/subscriptions'
| project subscriptionId`
	galleriesQuery = `resources
| where type =~ 'microsoft.compute/galleries'
| project id, name, type, location, tags, properties, subscriptionId, resourceGroup`
	imagesQuery = `resources
| where type =~ 'microsoft.compute/galleries/images'
| extend imageId = tolower(id)
| join kind=leftouter (
    resources
    | where type =~ 'microsoft.compute/galleries/images/versions'
    | extend imageId = tolower(tostring(split(id, '/versions/')[0]))
    | summarize liveVersions = make_list(name),
        liveDetails = make_list(pack('id', id, 'location', location, 'provisioningState', tostring(properties.provisioningState),
            'storageProfile', properties.storageProfile, 'regions', array_length(properties.publishingProfile.targetRegions)))
        by imageId
  ) on imageId
| project id, name, type, tags, subscriptionId, resourceGroup, liveVersions, liveDetails`
)

// graphBatch is how many subscriptions one query names; Resource Graph advises about 300.
const graphBatch = 300

// graphRow is a row of the galleries or image definitions query.
type graphRow struct {
	ID, Name, SubscriptionID string
	Tags                     map[string]string
	// LiveVersions names the image definition's live versions; Live is what the audit reads of
	// each (the query's liveDetails).
	LiveVersions []string
	Live         []LiveVersion
	fields       map[string]any // the row as decoded: a gallery's is its ARM body
}

// graph is one scan's Resource Graph client, the scopes its queries cover, and what the last
// answer said of the quota. Up to graphParallel scopes are read at once.
type graph struct {
	s      *Scanner
	client *armresourcegraph.Client
	// scopes are subscription batches of at most graphBatch; one nil scope is the tenant or the
	// management groups.
	scopes [][]string
	// notBefore is what the answers said of the quota: no query goes before it (every scope's
	// queries share the caller's quota).
	notBefore time.Time
	// outOfScope counts the gallery rows dropped: outside the subscriptions in scope, or with an
	// id naming another subscription than the row's. A row never widens the scope.
	outOfScope int
}

func (s *Scanner) newGraph() (*graph, error) {
	client, err := armresourcegraph.NewClient(s.opts.Credential, s.opts.Pipeline.ClientOptions())
	if err != nil {
		return nil, fmt.Errorf("creating the Resource Graph client: %w", err)
	}
	g := &graph{s: s, client: client}
	for b := range slices.Chunk(s.configured(), graphBatch) {
		g.scopes = append(g.scopes, b)
	}
	if len(g.scopes) == 0 {
		g.scopes = [][]string{nil}
	}
	return g, nil
}

// graphParallel is how many scopes' queries run at once: Resource Graph's default quota is 15
// queries in 5 seconds a caller, and a tenant of 1,000 subscriptions is four scopes' worth of
// pages, fetched one after another before.
const graphParallel = 4

// pages runs query over every scope to its last page, up to graphParallel scopes at once, handing
// each page to fn (one call at a time) with the number of rows the scope has in all and where the
// page starts among them. It keeps inside the caller's quota: once an answer says
// x-ms-user-quota-remaining is 0, no scope's next page goes before x-ms-user-quota-resets-after
// has passed (a 429 is waited out by the pipeline as any other). The first scope that fails
// stops the others, and is the error.
func (g *graph) pages(ctx context.Context, query string, fn func(total, offset int, rows []graphRow) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex // fn, and g.notBefore
		wg    sync.WaitGroup
		first error
		slots = make(chan struct{}, graphParallel)
	)
	locked := func(total, offset int, rows []graphRow) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(total, offset, rows)
	}
	for _, scope := range g.scopes {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := g.scopePages(ctx, query, scope, &mu, locked); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// scopePages is pages for one scope; mu guards g.notBefore.
func (g *graph) scopePages(ctx context.Context, query string, scope []string, mu *sync.Mutex, fn func(total, offset int, rows []graphRow) error) error {
	req := armresourcegraph.QueryRequest{Query: to.Ptr(query), Options: &armresourcegraph.QueryRequestOptions{
		Top: to.Ptr[int32](1000), ResultFormat: to.Ptr(armresourcegraph.ResultFormatObjectArray)}}
	for _, id := range scope {
		req.Subscriptions = append(req.Subscriptions, to.Ptr(id))
	}
	if scope == nil {
		for _, mg := range g.s.opts.ManagementGroups {
			req.ManagementGroups = append(req.ManagementGroups, to.Ptr(mg))
		}
	}
	seen := map[string]bool{}
	for page, offset := 0, 0; ; page++ {
		if page >= g.s.opts.MaxPages {
			return badResponseError(fmt.Sprintf("Resource Graph gave more than %d pages", g.s.opts.MaxPages))
		}
		mu.Lock()
		wait := max(g.notBefore.Sub(g.s.opts.Clock.Now()), 0)
		mu.Unlock()
		// Sleeping past the deadline would fail the scan, where the ARM walk can still read it;
		// and a quota window longer than Resource Graph's own is not one to wait out.
		if d, ok := ctx.Deadline(); wait > maxQuotaWait || ok && time.Until(d) < wait {
			return badResponseError(fmt.Sprintf("Resource Graph asks to wait %s for its quota (x-ms-user-quota-resets-after): longer than its window or the scan has left", wait))
		}
		if err := g.s.opts.Clock.Sleep(ctx, wait); err != nil {
			return err
		}
		var (
			raw       *http.Response
			rows      []graphRow
			total     int
			skipToken *string
		)
		err := call(policy.WithCaptureResponse(ctx, &raw), func(ctx context.Context) (armresourcegraph.ClientResourcesResponse, error) {
			return g.client.Resources(ctx, req, nil)
		}, func(resp armresourcegraph.ClientResourcesResponse) (err error) {
			rows, err = graphRows(resp.Data)
			total, skipToken = len(rows), resp.SkipToken
			if resp.TotalRecords != nil {
				total = max(total, int(*resp.TotalRecords))
			}
			return err
		})
		if err != nil {
			return err
		}
		if raw != nil && raw.Header.Get("x-ms-user-quota-remaining") == "0" {
			mu.Lock()
			if at := g.s.opts.Clock.Now().Add(quotaResets(raw.Header.Get("x-ms-user-quota-resets-after"))); at.After(g.notBefore) {
				g.notBefore = at
			}
			mu.Unlock()
		}
		if err := fn(total, offset, rows); err != nil {
			return err
		}
		offset += len(rows)
		if skipToken == nil || *skipToken == "" {
			return nil
		}
		if seen[*skipToken] {
			return badResponseError("Resource Graph's $skipToken points at a page already read")
		}
		seen[*skipToken] = true
		req.Options.SkipToken = skipToken
	}
}

// galleries asks Resource Graph for the subscriptions (unless they are configured) and the
// galleries in scope. It returns an error, and nothing, if any query fails.
func (g *graph) galleries(ctx context.Context) (subs []string, galleries []Gallery, err error) {
	s := g.s
	exclude := map[string]bool{}
	for _, id := range s.opts.Exclude {
		exclude[strings.ToLower(id)] = true
	}
	subs = s.configured()
	if len(subs) == 0 {
		err := g.pages(ctx, subscriptionsQuery, func(_, _ int, rows []graphRow) error {
			for _, row := range rows {
				if id := strings.ToLower(row.SubscriptionID); id != "" && !exclude[id] && !slices.Contains(subs, id) {
					subs = append(subs, id)
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("listing subscriptions: %w", err)
		}
		if len(subs) == 0 {
			return nil, nil, errNoSubscription
		}
		// The next queries go by batches of the subscriptions found, as for configured ones, so
		// that a large tenant's pages are read several scopes at once, not one after another.
		g.scopes = slices.Collect(slices.Chunk(subs, graphBatch))
	}
	inScope := make(map[string]bool, len(subs))
	for _, id := range subs {
		inScope[strings.ToLower(id)] = true
	}
	err = g.pages(ctx, galleriesQuery, func(_, _ int, rows []graphRow) error {
		for _, row := range rows {
			var item armcompute.Gallery // a row is the gallery's ARM body
			body, err := json.Marshal(row.fields)
			if err == nil {
				err = json.Unmarshal(body, &item)
			}
			if err != nil {
				return badResponseError(fmt.Sprintf("gallery row %s: %v", row.ID, err))
			}
			sub := strings.ToLower(row.SubscriptionID)
			if exclude[sub] {
				continue
			}
			if !inScope[sub] {
				g.dropped(row, "its subscription is not in scope")
				continue
			}
			gal, err := newGallery(sub, &item, s.opts.DefaultRetentionDays)
			if err != nil {
				return err
			}
			if id, err := azarm.ParseResourceID(gal.ID); err != nil || !strings.EqualFold(id.SubscriptionID, sub) {
				g.dropped(row, "its id names another subscription than its row")
				continue
			}
			galleries = append(galleries, gal)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing galleries: %w", err)
	}
	return subs, galleries, nil
}

// dropped counts and logs a gallery row outside the scope: listing its bins would watch, and
// announce, an estate nobody configured.
func (g *graph) dropped(row graphRow, why string) {
	g.outOfScope++
	g.s.opts.Logger.Warn("a Resource Graph row outside the scope was dropped", zap.String("id", row.ID),
		zap.String("subscription", row.SubscriptionID), zap.String("why", why))
}

// graphRows reads a page's objectArray rows from what the SDK decoded them into. A field of the
// wrong type is refused, naming the row; the whole row is kept for the galleries, whose ARM body
// it is.
func graphRows(data any) ([]graphRow, error) {
	items, ok := data.([]any)
	if !ok && data != nil {
		return nil, badResponseError(fmt.Sprintf("Resource Graph data is %T, not an array of rows", data))
	}
	rows := make([]graphRow, 0, len(items))
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, badResponseError(fmt.Sprintf("Resource Graph row %d is %T, not an object", i, item))
		}
		row := graphRow{fields: m}
		var bad []string
		text := func(key string) string {
			v, _ := m[key].(string)
			if _, there := m[key]; there && m[key] != nil && v == "" {
				bad = append(bad, key)
			}
			return v
		}
		row.ID, row.Name, row.SubscriptionID = text("id"), text("name"), text("subscriptionId")
		if tags, ok := m["tags"].(map[string]any); ok {
			row.Tags = make(map[string]string, len(tags))
			for k, v := range tags {
				if s, ok := v.(string); ok {
					row.Tags[k] = s
				}
			}
		}
		if live, ok := m["liveVersions"].([]any); ok {
			for _, v := range live {
				if s, ok := v.(string); ok {
					row.LiveVersions = append(row.LiveVersions, s)
				}
			}
		}
		if details, ok := m["liveDetails"].([]any); ok {
			for _, d := range details {
				if d, ok := d.(map[string]any); ok {
					id, _ := d["id"].(string)
					loc, _ := d["location"].(string)
					state, _ := d["provisioningState"].(string)
					if id != "" {
						row.Live = append(row.Live, LiveVersion{ID: id, Location: ShortLocation(loc), ProvisioningState: state, Bytes: graphReplicaBytes(d)})
					}
				}
			}
		}
		if len(bad) > 0 {
			return nil, badResponseError(fmt.Sprintf("Resource Graph row %d (%s): %v not strings", i, row.ID, bad))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// graphReplicaBytes is replicaBytes of a Resource Graph row's version: its storageProfile as
// ARM writes it, and how many target regions it has.
func graphReplicaBytes(d map[string]any) int64 {
	raw, err := json.Marshal(map[string]any{"storageProfile": d["storageProfile"]})
	if err != nil {
		return 0
	}
	var p armcompute.GalleryImageVersionProperties
	if json.Unmarshal(raw, &p) != nil {
		return 0
	}
	if n, ok := d["regions"].(float64); ok && n > 0 {
		p.PublishingProfile = &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: make([]*armcompute.TargetRegion, int(n))}
	}
	return replicaBytes(&p)
}

// maxQuotaWait is the longest quota wait purgewatch waits out: Resource Graph's quota window is
// seconds long (15 queries per 5 s), so a longer x-ms-user-quota-resets-after is a broken or
// hostile answer, and that scan walks ARM instead.
const maxQuotaWait = time.Minute

// quotaResets reads x-ms-user-quota-resets-after (hh:mm:ss); a second when it says nothing usable.
func quotaResets(v string) time.Duration {
	var h, m, sec int
	if _, err := fmt.Sscanf(v, "%d:%d:%d", &h, &m, &sec); err != nil || h < 0 || m < 0 || sec < 0 {
		return time.Second
	}
	h = min(h, 24*366) // no overflow: a year is already past any scan
	return max(time.Duration(h)*time.Hour+time.Duration(m)*time.Minute+time.Duration(sec)*time.Second, time.Second)
}
