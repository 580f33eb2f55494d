package scanner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"go.uber.org/zap"
)

// discoverOrWalk starts a scan: through Resource Graph when so configured, falling back to the
// ARM walk, loudly, when a query is refused; else the ARM walk. It returns the subscriptions in
// scope; r.fallback says why Resource Graph was given up, if it was.
func (r *run) discoverOrWalk(ctx context.Context, p *pool) ([]string, error) {
	s := r.s
	if s.opts.Discovery == DiscoveryResourceGraph {
		if err := s.checkToken(ctx); err != nil {
			return nil, err
		}
		g, err := s.newGraph()
		if err != nil {
			return nil, err
		}
		subs, galleries, err := g.galleries(ctx)
		if err == nil {
			r.outOfScope = g.outOfScope
			byID := map[string]Gallery{}
			for _, gal := range galleries {
				if take(r, &r.galleries, gal.ID, gal) {
					byID[strings.ToLower(gal.ID)] = gal
				}
			}
			for _, sub := range subs {
				r.complete[sub], r.read[sub] = true, true
			}
			// The image definitions come a page at a time; their bins are listed as they come.
			p.add("", func(ctx context.Context) { r.listDiscovered(ctx, p, g, byID) })
			return subs, nil
		}
		if len(s.opts.ManagementGroups) > 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			// Without Resource Graph the management groups' subscriptions are unknown: walking
			// every subscription the identity sees would watch another estate.
			return nil, fmt.Errorf("querying Resource Graph: %w", err)
		}
		r.fellBack(err)
	}
	s.discoveredLive.Store(nil)
	subs, err := s.subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	for _, sub := range subs {
		r.complete[sub] = true
		p.add(sub, func(ctx context.Context) { r.scanSubscription(ctx, p, sub) })
	}
	return subs, nil
}

// fellBack records and logs why Resource Graph was given up for the ARM walk.
func (r *run) fellBack(err error) {
	r.s.opts.Logger.Warn("Resource Graph discovery failed; walking ARM for this scan instead", zap.Error(err))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fallback = err.Error()
}

// listDiscovered queues a recycle-bin listing for every image definition Resource Graph returns,
// page by page; an incremental scan carries forward, instead, the bins nothing says have
// changed. A query that fails part way walks the galleries through ARM instead: the definitions
// already queued are not listed twice.
func (r *run) listDiscovered(ctx context.Context, p *pool, g *graph, galleries map[string]Gallery) {
	s, now := r.s, r.s.opts.Clock.Now()
	ids := map[string]bool{}
	live := map[string][]LiveVersion{}
	err := g.pages(ctx, imagesQuery, func(total, offset int, rows []graphRow) error {
		for i, row := range rows {
			live[strings.ToLower(row.ID)] = row.Live
			r.queueDiscovered(p, row, galleries, ids, now, place(offset+i, total, s.opts.FullEvery))
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			r.fail(ctx, "", RootScope, err)
			return
		}
		s.discoveredLive.Store(nil) // the audit lists them through ARM
		r.fellBack(fmt.Errorf("listing image definitions: %w", err))
		for _, gal := range galleries {
			if c, err := s.clientsFor(gal.SubscriptionID); err == nil {
				p.add(gal.SubscriptionID, func(ctx context.Context) { r.scanGallery(ctx, p, c, gal) })
			}
		}
		return
	}
	s.discoveredLive.Store(&live)
	if s.opts.Incremental {
		s.bins.keepOnly(ids)
	}
}

// place is the k-th of total rows' place in the reconcile period: a bin never listed takes it,
// so that the bins first listed together are reconciled a share at a time, not all at once. In
// floating point, since rows × nanoseconds overflows an int64 past ~400,000 rows; a total the
// service understated is clamped to the period.
func place(k, total int, every time.Duration) time.Duration {
	share := min(float64(k)/float64(max(total, 1)), 1)
	return time.Duration(share * float64(every))
}

// queueDiscovered queues the listing of one discovered image definition's bin, or carries its
// versions from its last listing when an incremental scan finds nothing to say it changed.
func (r *run) queueDiscovered(p *pool, row graphRow, galleries map[string]Gallery, ids map[string]bool, now time.Time, ahead time.Duration) {
	s := r.s
	galleryID, name, ok := strings.Cut(row.ID, "/images/")
	g, known := galleries[strings.ToLower(galleryID)]
	if !ok || !known || name == "" || strings.Contains(name, "/") {
		return // a definition of a gallery out of scope, or a row that is not one
	}
	c, err := s.clientsFor(g.SubscriptionID)
	if err != nil {
		r.fail(context.Background(), g.SubscriptionID, g.ID, err)
		return
	}
	def := ImageDefinition{ID: g.ID + "/images/" + name, SubscriptionID: g.SubscriptionID,
		ResourceGroup: g.ResourceGroup, Gallery: g.Name, Name: name}
	if !take(r, &r.images, def.ID, def) {
		return
	}
	t := tags(g.Tags, ptrMap(row.Tags))
	if !s.opts.Incremental {
		p.add(g.SubscriptionID, func(ctx context.Context) { r.readBin(ctx, c, g, name, t) })
		return
	}
	id, live := strings.ToLower(def.ID), liveHash(row.LiveVersions)
	ids[id] = true
	versions, carried, listedBefore := s.bins.carried(id, live, now, s.opts.FullEvery)
	if carried {
		r.carry(versions, t)
		return
	}
	if listedBefore {
		ahead = 0
	}
	p.add(g.SubscriptionID, func(ctx context.Context) {
		if versions, whole := r.readBin(ctx, c, g, name, t); whole {
			s.bins.listed(id, live, now, s.opts.FullEvery, ahead, versions)
		} else {
			s.bins.forget(id) // listed again next scan
		}
	})
}

// carry adds a bin's versions from its last listing, with the tags its definition has now. They
// get a Definition of their own: the last one is the published snapshot's, read meanwhile.
func (r *run) carry(versions []Version, t map[string]string) {
	r.carried.Add(1)
	if len(versions) == 0 {
		return
	}
	def := *versions[0].Definition // a bin's versions are all of its one image definition
	def.Tags = t
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range versions {
		v.Definition = &def
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
