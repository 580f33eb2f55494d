package scanner_test

import (
	"net/http"
	"testing"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/scanner"
)

func TestMergeKeepsTheLastGoodDataOfFailedScopes(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	good := scan(t, h)

	// Subscription B becomes unreadable and, meanwhile, 1.0.1 leaves subscription A's bin.
	estate := twoSubscriptions()
	estate.Subscriptions[0].Galleries[0].Images[0].SoftDeleted = estate.Subscriptions[0].Galleries[0].Images[0].SoftDeleted[:1]
	h.sim.SetEstate(estate)
	h.sim.Inject(armsim.Fault{Scope: "/subscriptions/" + subB, Status: http.StatusForbidden, Code: "AuthorizationFailed", Message: "no"})
	bad := scan(t, h)

	merged := scanner.Merge(good, bad)
	names := map[string]bool{}
	for _, v := range merged.Versions {
		names[v.Version] = true
	}
	if !names["2.0.0"] {
		t.Error("the failed subscription's version was dropped")
	}
	if names["1.0.1"] {
		t.Error("a version that left a healthy scope's bin was kept")
	}
	if !names["1.0.0"] || !names["0.9.0"] || len(merged.Versions) != 3 {
		t.Errorf("merged versions = %v", names)
	}
	if len(merged.Errors) != 1 || len(merged.Galleries) != 3 {
		t.Errorf("errors %d, galleries %d", len(merged.Errors), len(merged.Galleries))
	}
	for i := 1; i < len(merged.Versions); i++ {
		if merged.Versions[i].PurgeAt.Before(merged.Versions[i-1].PurgeAt) {
			t.Fatal("merged versions are not sorted by purgeAt")
		}
	}
	if len(bad.Versions) != 2 {
		t.Errorf("Merge modified its input: %d versions", len(bad.Versions))
	}
	if scanner.Merge(nil, bad) != bad || scanner.Merge(good, good) != good {
		t.Error("Merge without a previous snapshot or without errors must return next as it is")
	}
}

func TestMergeScopeBoundaries(t *testing.T) {
	prefix := "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/galleries/"
	prev := &scanner.Snapshot{Versions: []scanner.Version{
		{Definition: &scanner.Definition{SubscriptionID: subA, ResourceGroup: "rg", Gallery: "g", Image: "i"}, Version: "1"},
		{Definition: &scanner.Definition{SubscriptionID: subA, ResourceGroup: "rg", Gallery: "g2", Image: "i"},
			Version: "1"}, // g is a prefix of g2's name, not its scope
		{Definition: &scanner.Definition{SubscriptionID: subA, ResourceGroup: "rg", Gallery: "G", Image: "j"},
			Version: "1"}, // ARM ids are case-insensitive
	}}
	next := &scanner.Snapshot{Errors: []scanner.ScopeError{{Scope: prefix + "g"}}}
	got := scanner.Merge(prev, next)
	if len(got.Versions) != 2 || got.Versions[0].ID() == prefix+"g2/images/i/versions/1" || got.Versions[1].ID() == prefix+"g2/images/i/versions/1" {
		t.Errorf("kept %+v", got.Versions)
	}
}
