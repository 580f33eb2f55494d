package scanner_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/scanner"
)

// requests counts the simulator's requests whose path contains part.
func requests(h *harness, part string) int {
	n := 0
	for _, r := range h.sim.Requests() {
		if strings.Contains(strings.ToLower(r), strings.ToLower(part)) {
			n++
		}
	}
	return n
}

func versionIDs(snap *scanner.Snapshot) []string {
	var ids []string
	for _, v := range snap.Versions {
		ids = append(ids, v.ID())
	}
	slices.Sort(ids)
	return ids
}

// Resource Graph finds what the ARM walk finds, priced the same, without a gallery or image
// definition listing: three queries, then one recycle-bin listing per image definition.
func TestResourceGraphFindsWhatTheWalkFinds(t *testing.T) {
	walk := scan(t, newHarness(t, twoSubscriptions(), harnessOpts{}))
	h := newHarness(t, twoSubscriptions(), harnessOpts{scanner: scanner.Options{Discovery: scanner.DiscoveryResourceGraph}})
	graph := scan(t, h)
	if len(graph.Errors) != 0 || graph.Stats.DiscoveryFallback != "" {
		t.Fatalf("errors %+v, fallback %q", graph.Errors, graph.Stats.DiscoveryFallback)
	}
	if !slices.Equal(versionIDs(graph), versionIDs(walk)) || len(graph.Galleries) != len(walk.Galleries) {
		t.Fatalf("Resource Graph found %v and %d galleries; the walk %v and %d", versionIDs(graph), len(graph.Galleries), versionIDs(walk), len(walk.Galleries))
	}
	for i, v := range graph.Versions {
		if w := walk.Versions[i]; v.PurgeAt != w.PurgeAt || v.ConsumptionEndsAt != w.ConsumptionEndsAt || !maps(v.Tags, w.Tags) {
			t.Errorf("%s: purge %v, usable until %v, tags %v; the walk says %v, %v, %v", v.ID(), v.PurgeAt, v.ConsumptionEndsAt, v.Tags, w.PurgeAt, w.ConsumptionEndsAt, w.Tags)
		}
	}
	if q, galleries, images := requests(h, armsim.GraphPath), requests(h, "/providers/Microsoft.Compute/galleries?"), requests(h, "/images?"); q != 3 || galleries != 0 || images != 0 {
		t.Errorf("%d queries, %d gallery listings, %d image listings; want 3, 0, 0", q, galleries, images)
	}
	if graph.Stats.Subscriptions != 2 {
		t.Errorf("subscriptions = %d", graph.Stats.Subscriptions)
	}
}

func maps(a, b map[string]string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// bigEstate is one subscription with n image definitions, each with a version in the bin.
func bigEstate(n int) armsim.Estate {
	imgs := make([]armsim.Image, n)
	for i := range imgs {
		imgs[i] = armsim.Image{Name: fmt.Sprintf("img%04d", i), Versions: []string{"2.0.0"},
			SoftDeleted: []armsim.SoftDeleted{{Version: "1.0.0", DeletedAt: t0.Add(-time.Hour)}}}
	}
	return armsim.Estate{Subscriptions: []armsim.Subscription{{ID: subA, Galleries: []armsim.Gallery{
		{Name: "g", ResourceGroup: "rg", Location: "West US", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true}, Images: imgs}}}}}
}

// Pages of 1,000 rows are followed by $skipToken, and the caller's quota (here 2 queries per 5 s)
// is kept by waiting out x-ms-user-quota-resets-after, not by being throttled.
func TestResourceGraphPagesWithinItsQuota(t *testing.T) {
	h := newHarness(t, bigEstate(2500), harnessOpts{sim: armsim.Options{GraphQuota: 2, GraphWindow: 5 * time.Second},
		scanner: scanner.Options{Discovery: scanner.DiscoveryResourceGraph}})
	snap := scan(t, h)
	if len(snap.Errors) != 0 || snap.Stats.DiscoveryFallback != "" || len(snap.Versions) != 2500 {
		t.Fatalf("%d versions, errors %+v, fallback %q", len(snap.Versions), snap.Errors, snap.Stats.DiscoveryFallback)
	}
	if q := requests(h, armsim.GraphPath); q != 5 { // subscriptions, galleries, three pages of image definitions
		t.Errorf("%d queries, want 5", q)
	}
	if snap.Stats.Throttled != 0 {
		t.Errorf("%d queries throttled: the quota was not kept", snap.Stats.Throttled)
	}
}

// A Resource Graph that refuses the query costs this scan its speed, not its data: it walks ARM,
// says why, and reads everything.
func TestARefusedQueryFallsBackToTheWalk(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{scanner: scanner.Options{Discovery: scanner.DiscoveryResourceGraph}})
	h.sim.Inject(armsim.Fault{Scope: armsim.GraphPath, Status: 403, Code: "AuthorizationFailed", Message: "no Resource Graph for you"})
	snap := scan(t, h)
	if len(snap.Errors) != 0 || len(snap.Versions) != 4 {
		t.Fatalf("%d versions, errors %+v", len(snap.Versions), snap.Errors)
	}
	if !strings.Contains(snap.Stats.DiscoveryFallback, "AuthorizationFailed") {
		t.Errorf("fallback = %q, want the refusal", snap.Stats.DiscoveryFallback)
	}
	if requests(h, "/providers/Microsoft.Compute/galleries?") != 2 {
		t.Error("the ARM walk did not list the galleries")
	}
}

// Management groups scope discovery to their subscriptions; when Resource Graph cannot answer,
// the scan fails rather than walk every subscription the identity sees, another estate.
func TestManagementGroupsScopeDiscovery(t *testing.T) {
	estate := twoSubscriptions()
	estate.Subscriptions[0].ManagementGroup, estate.Subscriptions[1].ManagementGroup = "platform", "sandbox"
	opts := harnessOpts{scanner: scanner.Options{Discovery: scanner.DiscoveryResourceGraph, ManagementGroups: []string{"platform"}}}
	snap := scan(t, newHarness(t, estate, opts))
	if len(snap.Errors) != 0 || snap.Stats.Subscriptions != 1 || len(snap.Versions) != 3 {
		t.Fatalf("%d subscriptions, %d versions, errors %+v; want platform's 1 and 3", snap.Stats.Subscriptions, len(snap.Versions), snap.Errors)
	}
	for _, v := range snap.Versions {
		if v.SubscriptionID != subA {
			t.Errorf("%s is outside the management group", v.ID())
		}
	}

	h := newHarness(t, estate, opts)
	h.sim.Inject(armsim.Fault{Scope: armsim.GraphPath, Status: 403, Code: "AuthorizationFailed", Message: "no"})
	snap = scan(t, h)
	if !snap.Failed() || len(snap.Versions) != 0 || requests(h, "/providers/Microsoft.Compute/galleries?") != 0 {
		t.Errorf("failed %v, %d versions, errors %+v: a management group scope must not widen to the walk", snap.Failed(), len(snap.Versions), snap.Errors)
	}
}

// A query that fails part way, after some image definitions have been queued, walks the
// galleries through ARM for the rest: every bin is listed, none twice.
func TestAQueryFailingPartWayIsFinishedByTheWalk(t *testing.T) {
	var h *harness
	graphQueries := 0
	h = newHarness(t, bigEstate(2500), harnessOpts{
		sim: armsim.Options{OnRequest: func(r *http.Request) {
			if strings.EqualFold(r.URL.Path, armsim.GraphPath) {
				if graphQueries++; graphQueries == 3 { // the galleries and a first page of definitions went through
					h.sim.Inject(armsim.Fault{Scope: armsim.GraphPath, Status: 503, Code: "ServiceUnavailable", Message: "down"})
				}
			}
		}},
		scanner: scanner.Options{Subscriptions: []string{subA}, Discovery: scanner.DiscoveryResourceGraph}})
	snap := scan(t, h)
	if len(snap.Errors) != 0 || len(snap.Versions) != 2500 {
		t.Fatalf("%d versions, errors %+v", len(snap.Versions), snap.Errors)
	}
	if !strings.Contains(snap.Stats.DiscoveryFallback, "listing image definitions") {
		t.Errorf("fallback = %q", snap.Stats.DiscoveryFallback)
	}
	if n := requests(h, "/softDeletedArtifactTypes/Images/artifacts/"); n != 2500 {
		t.Errorf("%d bin listings for 2,500 image definitions", n)
	}
	if requests(h, "/images?") == 0 {
		t.Error("the galleries were not walked for the definitions the query did not return")
	}
}

// A row that is not what the query projects (an id that is a number) is refused, naming the row,
// and that scan walks ARM instead.
func TestAMalformedRowFallsBackToTheWalk(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{scanner: scanner.Options{Discovery: scanner.DiscoveryResourceGraph}})
	h.sim.Inject(armsim.Fault{Scope: armsim.GraphPath, Raw: true, Body: `{"totalRecords": 1, "count": 1, "data": [{"id": 5, "subscriptionId": "x"}]}`})
	snap := scan(t, h)
	if len(snap.Errors) != 0 || len(snap.Versions) != 4 || !strings.Contains(snap.Stats.DiscoveryFallback, "[id] not strings") {
		t.Errorf("%d versions, errors %+v, fallback %q", len(snap.Versions), snap.Errors, snap.Stats.DiscoveryFallback)
	}
}

// The audit's live versions come with Resource Graph's image definitions: the inventory reads
// them from the scan instead of listing each definition's versions, and finds what the listing
// finds (a version in Failed provisioning state among them).
func TestTheAuditReadsLiveVersionsFromResourceGraph(t *testing.T) {
	estate := twoSubscriptions()
	img := &estate.Subscriptions[0].Galleries[0].Images[0]
	img.Versions, img.Failed = []string{"2.0.0", "2.1.0"}, []string{"2.1.0"}
	live := func(discovery string) ([]scanner.LiveVersion, int) {
		h := newHarness(t, estate, harnessOpts{scanner: scanner.Options{Discovery: discovery}})
		snap := scan(t, h)
		inv := h.scanner.Inventory(t.Context(), nil, snap.Images)
		if len(inv.Errors) != 0 {
			t.Fatalf("%s: %+v", discovery, inv.Errors)
		}
		slices.SortFunc(inv.LiveVersions, func(a, b scanner.LiveVersion) int { return strings.Compare(a.ID, b.ID) })
		// Live-version listings: .../images/I/versions?, not the bins' .../artifacts/I/versions?.
		return inv.LiveVersions, requests(h, "/versions?") - requests(h, "/softDeletedArtifactTypes/")
	}
	walked, listings := live(scanner.DiscoveryARM)
	graphed, graphListings := live(scanner.DiscoveryResourceGraph)
	if len(walked) != 2 || walked[1].ProvisioningState != "Failed" || !slices.Equal(graphed, walked) {
		t.Errorf("Resource Graph gave %+v; the listing %+v", graphed, walked)
	}
	if listings == 0 || graphListings != 0 {
		t.Errorf("live-version listings: %d walking, %d with Resource Graph (want none)", listings, graphListings)
	}
}

// A Resource Graph row never widens the scope: with azure.subscriptions [A], a gallery row of B,
// or a row of A whose id is B's gallery, is dropped and counted, and no bin of B is listed.
func TestAGraphRowNeverWidensTheScope(t *testing.T) {
	gallery := func(sub, rowSub, rg, name string) string {
		return `{"id": "/subscriptions/` + sub + `/resourceGroups/` + rg + `/providers/Microsoft.Compute/galleries/` + name + `",
			"name": "` + name + `", "type": "microsoft.compute/galleries", "location": "westus", "subscriptionId": "` + rowSub + `",
			"resourceGroup": "` + rg + `", "properties": {"softDeletePolicy": {"isSoftDeleteEnabled": true}}}`
	}
	rows := strings.Join([]string{gallery(subA, subA, "rg1", "g2024"), gallery(subB, subB, "rg2", "g2026"), gallery(subB, subA, "rg2", "g2026")}, ",")
	h := newHarness(t, twoSubscriptions(), harnessOpts{scanner: scanner.Options{Discovery: scanner.DiscoveryResourceGraph, Subscriptions: []string{subA}}})
	h.sim.Inject(armsim.Fault{Scope: armsim.GraphPath, Raw: true, Times: 1, Body: `{"totalRecords": 3, "count": 3, "data": [` + rows + `]}`})
	snap := scan(t, h)
	if snap.Stats.DiscoveryFallback != "" || snap.Stats.RowsOutOfScope != 2 {
		t.Errorf("fallback %q, %d rows out of scope, want 2 dropped", snap.Stats.DiscoveryFallback, snap.Stats.RowsOutOfScope)
	}
	if len(snap.Galleries) != 1 || snap.Galleries[0].SubscriptionID != subA {
		t.Errorf("galleries %+v, want only A's", snap.Galleries)
	}
	if n := requests(h, "/subscriptions/"+subB); n != 0 {
		t.Errorf("%d requests to subscription B, which is not in scope", n)
	}
	for _, v := range snap.Versions {
		if v.SubscriptionID != subA {
			t.Errorf("announced %s, outside the scope", v.ID())
		}
	}
}

// Resource Graph asking to wait ten days for its quota, or sending back a $skipToken already
// followed, ends the query at once, and that scan walks ARM instead, saying why: it neither
// sleeps to the deadline nor spends a thousand queries.
func TestAHostileResourceGraphFallsBackAtOnce(t *testing.T) {
	page := `{"totalRecords": 5, "count": 1, "data": [{"subscriptionId": "` + subA + `"}], "$skipToken": "again"}`
	last := `{"totalRecords": 1, "count": 1, "data": [{"subscriptionId": "` + subA + `"}]}`
	for name, f := range map[string]armsim.Fault{
		"a ten-day quota wait": {Scope: armsim.GraphPath, Raw: true, Body: last,
			Header: http.Header{"X-Ms-User-Quota-Remaining": {"0"}, "X-Ms-User-Quota-Resets-After": {"240:00:00"}}},
		"a repeated $skipToken": {Scope: armsim.GraphPath, Raw: true, Body: page},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, twoSubscriptions(), harnessOpts{scanner: scanner.Options{Discovery: scanner.DiscoveryResourceGraph}})
			h.sim.Inject(f)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			snap, err := h.scanner.Scan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if why := map[string]string{"a ten-day quota wait": "quota", "a repeated $skipToken": "$skipToken"}[name]; !strings.Contains(snap.Stats.DiscoveryFallback, why) {
				t.Errorf("fallback %q does not say %q", snap.Stats.DiscoveryFallback, why)
			}
			if len(snap.Versions) != 4 || len(snap.Errors) != 0 {
				t.Errorf("fallback %q, %d versions, errors %+v: want the ARM walk's 4", snap.Stats.DiscoveryFallback, len(snap.Versions), snap.Errors)
			}
			if n := requests(h, armsim.GraphPath); n > 3 {
				t.Errorf("%d Resource Graph queries before giving up", n)
			}
			if waited := h.clock.Now().Sub(t0); waited > time.Minute {
				t.Errorf("waited %s for Resource Graph's quota", waited)
			}
		})
	}
}

// Configured subscriptions beyond one query's batch are queried in scopes, several at once: every
// scope is read whole, once, and nothing twice.
func TestResourceGraphReadsItsScopesWhole(t *testing.T) {
	var e armsim.Estate
	var ids []string
	for i := range 700 {
		id := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
		ids = append(ids, id)
		e.Subscriptions = append(e.Subscriptions, armsim.Subscription{ID: id, Galleries: []armsim.Gallery{{Name: "g", ResourceGroup: "rg",
			Location: "West US", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true},
			Images: []armsim.Image{{Name: "i", SoftDeleted: []armsim.SoftDeleted{{Version: "1.0.0", DeletedAt: t0.Add(-time.Hour)}}}}}}})
	}
	h := newHarness(t, e, harnessOpts{scanner: scanner.Options{Discovery: scanner.DiscoveryResourceGraph, Subscriptions: ids, Concurrency: 16}})
	snap := scan(t, h)
	if len(snap.Errors) != 0 || snap.Stats.DiscoveryFallback != "" || len(snap.Versions) != 700 {
		t.Fatalf("%d versions, errors %+v, fallback %q", len(snap.Versions), snap.Errors, snap.Stats.DiscoveryFallback)
	}
	if q := requests(h, armsim.GraphPath); q != 6 { // galleries and image definitions, in three scopes each
		t.Errorf("%d queries, want 6", q)
	}
}
