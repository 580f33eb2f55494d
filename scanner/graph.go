package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

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
    | summarize liveVersions = make_list(name) by imageId
  ) on imageId
| project id, name, type, tags, subscriptionId, resourceGroup, liveVersions`
)

// graphBatch is how many subscriptions one query names; Resource Graph advises about 300.
const graphBatch = 300

// graphRow is a row of the galleries or image definitions query.
type graphRow struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Tags           map[string]string `json:"tags"`
	SubscriptionID string            `json:"subscriptionId"`
	LiveVersions   []string          `json:"liveVersions"`
	raw            json.RawMessage
}

// discovered is what Resource Graph said of the estate.
type discovered struct {
	subscriptions []string
	galleries     []Gallery
	images        []graphRow
}

// discover asks Resource Graph for the subscriptions, galleries and image definitions in scope:
// the configured subscriptions (300 a query), else the configured management groups, else the
// tenant. It returns an error, and nothing, if any query fails: a part of the estate must not
// go missing because one page did.
func (s *Scanner) discover(ctx context.Context) (*discovered, error) {
	client, err := armresourcegraph.NewClient(s.opts.Credential, s.opts.Pipeline.ClientOptions())
	if err != nil {
		return nil, fmt.Errorf("creating the Resource Graph client: %w", err)
	}
	var scopes [][]string // subscription batches; one nil scope is the tenant or the management groups
	subs := s.configured()
	for b := range slices.Chunk(subs, graphBatch) {
		scopes = append(scopes, b)
	}
	if len(scopes) == 0 {
		scopes = [][]string{nil}
	}
	d := &discovered{subscriptions: subs}
	var wait time.Duration // what the last answer said of the quota: wait this before the next query
	exclude := map[string]bool{}
	for _, id := range s.opts.Exclude {
		exclude[strings.ToLower(id)] = true
	}
	for _, scope := range scopes {
		if len(subs) == 0 {
			rows, err := s.query(ctx, client, &wait, subscriptionsQuery, scope)
			if err != nil {
				return nil, fmt.Errorf("listing subscriptions: %w", err)
			}
			for _, row := range rows {
				if id := strings.ToLower(row.SubscriptionID); id != "" && !exclude[id] && !slices.Contains(d.subscriptions, id) {
					d.subscriptions = append(d.subscriptions, id)
				}
			}
		}
		rows, err := s.query(ctx, client, &wait, galleriesQuery, scope)
		if err != nil {
			return nil, fmt.Errorf("listing galleries: %w", err)
		}
		for _, row := range rows {
			var item armcompute.Gallery // a row is the gallery's ARM body
			if err := json.Unmarshal(row.raw, &item); err != nil {
				return nil, badResponse(fmt.Sprintf("gallery row %s: %v", row.ID, err))
			}
			sub := strings.ToLower(row.SubscriptionID)
			if exclude[sub] {
				continue
			}
			g, err := newGallery(sub, &item, s.opts.DefaultRetentionDays)
			if err != nil {
				return nil, err
			}
			d.galleries = append(d.galleries, g)
		}
		if rows, err = s.query(ctx, client, &wait, imagesQuery, scope); err != nil {
			return nil, fmt.Errorf("listing image definitions: %w", err)
		}
		for _, row := range rows {
			if !exclude[strings.ToLower(row.SubscriptionID)] {
				d.images = append(d.images, row)
			}
		}
	}
	if len(d.subscriptions) == 0 {
		return nil, errNoSubscription
	}
	return d, nil
}

// query runs one Resource Graph query to its last page. It keeps inside the caller's quota: once
// an answer says x-ms-user-quota-remaining is 0, the next query or page waits out
// x-ms-user-quota-resets-after, carried in *wait (a 429 is waited out by the pipeline as any
// other).
func (s *Scanner) query(ctx context.Context, client *armresourcegraph.Client, wait *time.Duration, query string, subs []string) ([]graphRow, error) {
	req := armresourcegraph.QueryRequest{Query: to.Ptr(query), Options: &armresourcegraph.QueryRequestOptions{
		Top: to.Ptr[int32](1000), ResultFormat: to.Ptr(armresourcegraph.ResultFormatObjectArray)}}
	for _, id := range subs {
		req.Subscriptions = append(req.Subscriptions, to.Ptr(id))
	}
	for _, mg := range s.opts.ManagementGroups {
		if subs == nil {
			req.ManagementGroups = append(req.ManagementGroups, to.Ptr(mg))
		}
	}
	var out []graphRow
	for page := 0; ; page++ {
		if page >= s.opts.MaxPages {
			return nil, badResponse(fmt.Sprintf("Resource Graph gave more than %d pages", s.opts.MaxPages))
		}
		if err := s.opts.Clock.Sleep(ctx, *wait); err != nil {
			return nil, err
		}
		var raw *http.Response
		resp, err := client.Resources(policy.WithCaptureResponse(ctx, &raw), req, nil)
		if err != nil {
			return nil, err
		}
		*wait = 0
		if raw != nil && raw.Header.Get("x-ms-user-quota-remaining") == "0" {
			*wait = quotaResets(raw.Header.Get("x-ms-user-quota-resets-after"))
		}
		rows, err := graphRows(resp.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		if resp.SkipToken == nil || *resp.SkipToken == "" {
			return out, nil
		}
		req.Options.SkipToken = resp.SkipToken
	}
}

// graphRows decodes a page's objectArray rows.
func graphRows(data any) ([]graphRow, error) {
	items, ok := data.([]any)
	if !ok && data != nil {
		return nil, badResponse(fmt.Sprintf("Resource Graph data is %T, not an array of rows", data))
	}
	rows := make([]graphRow, 0, len(items))
	for _, item := range items {
		b, err := json.Marshal(item)
		if err != nil {
			return nil, err
		}
		var row graphRow
		if err := json.Unmarshal(b, &row); err != nil {
			return nil, badResponse(fmt.Sprintf("a Resource Graph row: %v", err))
		}
		row.raw = b
		rows = append(rows, row)
	}
	return rows, nil
}

// quotaResets reads x-ms-user-quota-resets-after (hh:mm:ss); a second when it says nothing usable.
func quotaResets(v string) time.Duration {
	var h, m, sec int
	if _, err := fmt.Sscanf(v, "%d:%d:%d", &h, &m, &sec); err != nil || h < 0 || m < 0 || sec < 0 {
		return time.Second
	}
	return max(time.Duration(h)*time.Hour+time.Duration(m)*time.Minute+time.Duration(sec)*time.Second, time.Second)
}

// scanDiscovered queues a recycle-bin listing for every image definition Resource Graph found;
// an incremental scan carries forward, instead, the bins nothing says have changed.
func (r *run) scanDiscovered(d *discovered, p *pool) {
	s, now := r.s, r.s.opts.Clock.Now()
	ids := map[string]bool{}
	type listing struct {
		id, name string
		g        Gallery
		c        *clients
		t        map[string]string
		live     uint64
		ahead    time.Duration
	}
	var lists []listing
	first := 0 // bins never listed: spread over the reconcile period
	galleries := map[string]Gallery{}
	for _, g := range d.galleries {
		if take(r, &r.galleries, g.ID, g) {
			galleries[strings.ToLower(g.ID)] = g
		}
	}
	for _, sub := range d.subscriptions {
		r.read[sub] = true
	}
	for _, row := range d.images {
		galleryID, name, ok := strings.Cut(row.ID, "/images/")
		g, known := galleries[strings.ToLower(galleryID)]
		if !ok || !known || name == "" || strings.Contains(name, "/") {
			continue // a definition of a gallery out of scope, or a row that is not one
		}
		c, err := r.s.clientsFor(g.SubscriptionID)
		if err != nil {
			r.fail(context.Background(), g.SubscriptionID, g.ID, err)
			continue
		}
		def := ImageDefinition{ID: g.ID + "/images/" + name, SubscriptionID: g.SubscriptionID,
			ResourceGroup: g.ResourceGroup, Gallery: g.Name, Name: name}
		if !take(r, &r.images, def.ID, def) {
			continue
		}
		t := tags(g.Tags, ptrMap(row.Tags))
		if !s.opts.Incremental {
			p.add(g.SubscriptionID, func(ctx context.Context) { r.scanImage(ctx, c, g, name, t) })
			continue
		}
		id, live := strings.ToLower(def.ID), liveHash(row.LiveVersions)
		ids[id] = true
		versions, ok, known := s.bins.carried(id, live, now, s.opts.FullEvery)
		if ok {
			r.carry(versions, t)
			continue
		}
		l := listing{id: id, name: name, g: g, c: c, t: t, live: live, ahead: -1}
		if !known {
			l.ahead, first = time.Duration(first), first+1
		}
		lists = append(lists, l)
	}
	if !s.opts.Incremental {
		return
	}
	s.bins.keepOnly(ids)
	for _, l := range lists {
		ahead := time.Duration(0)
		if l.ahead >= 0 { // the k-th of the first-listed takes the k-th place in the period
			ahead = time.Duration(int64(l.ahead) * int64(s.opts.FullEvery) / int64(first))
		}
		p.add(l.g.SubscriptionID, func(ctx context.Context) {
			if versions, whole := r.listImage(ctx, l.c, l.g, l.name, l.t); whole {
				s.bins.listed(l.id, l.live, now, s.opts.FullEvery, ahead, versions)
			} else {
				s.bins.forget(l.id) // listed again next scan
			}
		})
	}
}

// carry adds a bin's versions from its last listing, with the tags its definition has now.
func (r *run) carry(versions []Version, t map[string]string) {
	r.carried.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range versions {
		v.Tags = t
		r.versions = append(r.versions, v)
	}
}

func ptrMap(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = to.Ptr(v)
	}
	return out
}

// discoverOrWalk starts a scan: through Resource Graph when so configured, falling back to the
// ARM walk, loudly, when a query is refused; else the ARM walk. It returns the subscriptions in
// scope and why Resource Graph was not used, if it was to be.
func (r *run) discoverOrWalk(ctx context.Context, p *pool) (subs []string, fallback string, err error) {
	s := r.s
	if s.opts.Discovery == DiscoveryResourceGraph {
		if err := s.checkToken(ctx); err != nil {
			return nil, "", err
		}
		d, err := s.discover(ctx)
		if err == nil {
			for _, sub := range d.subscriptions {
				r.complete[sub] = true
			}
			r.scanDiscovered(d, p)
			return d.subscriptions, "", nil
		}
		if len(s.opts.ManagementGroups) > 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// Without Resource Graph the management groups' subscriptions are unknown: walking
			// every subscription the identity sees would watch another estate.
			return nil, "", fmt.Errorf("querying Resource Graph: %w", err)
		}
		fallback = err.Error()
		s.opts.Logger.Warn("Resource Graph discovery failed; walking ARM for this scan instead", zap.Error(err))
	}
	if subs, err = s.subscriptions(ctx); err != nil {
		return nil, fallback, err
	}
	for _, sub := range subs {
		r.complete[sub] = true
		p.add(sub, func(ctx context.Context) { r.scanSubscription(ctx, p, sub) })
	}
	return subs, fallback, nil
}
