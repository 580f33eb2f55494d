package scanner_test

import (
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/scanner"
)

// A scale set on a community image and a VM on a shared one: the inventory reads each version
// once, through the workload's subscription and in its location, and says which one its publisher
// soft-deleted and until when it can be consumed. A version Azure no longer has (purged, or no
// longer shared) is one too: its workloads break now.
func TestTheInventoryReadsTheImagesConsumedFromOthers(t *testing.T) {
	const sub = "33333333-3333-3333-3333-333333333333"
	end := t0.Add(36 * time.Hour)
	community := "/CommunityGalleries/contoso-public-1a2b/Images/ubuntu-hardened/Versions/1.0.3"
	shared := "/SharedGalleries/fabrikam-0f0e/Images/win2025/Versions/2.1.0"
	gone := "/SharedGalleries/fabrikam-0f0e/Images/win2025/Versions/0.9.0"
	e := armsim.Estate{
		Subscriptions: []armsim.Subscription{{ID: sub,
			ScaleSets: []armsim.ScaleSet{{Name: "web", ResourceGroup: "rg", Location: "West Europe", ImageID: community},
				{Name: "web2", ResourceGroup: "rg", Location: "West Europe", ImageID: community}},
			VMs: []armsim.VM{{Name: "build", ResourceGroup: "rg", Location: "West Europe", ImageID: shared},
				{Name: "old", ResourceGroup: "rg", Location: "West Europe", ImageID: gone}},
		}},
		Consumed: []armsim.ConsumedImage{
			{Kind: "community", Gallery: "contoso-public-1a2b", Image: "ubuntu-hardened", Version: "1.0.3", Location: "westeurope", State: "SoftDeleted", ConsumptionEnd: end},
			{Kind: "shared", Gallery: "fabrikam-0f0e", Image: "win2025", Version: "2.1.0", Location: "westeurope"},
		},
	}
	h := newHarness(t, e, harnessOpts{})
	inv := h.scanner.Inventory(t.Context(), []string{sub}, nil)
	if len(inv.Consumed) != 3 || len(inv.Errors) != 0 {
		t.Fatalf("consumed %+v, errors %+v: want the community, the shared and the gone one", inv.Consumed, inv.Errors)
	}
	c := inv.Consumed[0]
	if c.ID != community || c.Kind != scanner.ConsumedCommunity || !c.SoftDeleted() || !c.ConsumptionEndsAt.Equal(end) || len(c.Workloads) != 2 || c.Location != "westeurope" {
		t.Errorf("the community version: %+v", c)
	}
	if g := inv.Consumed[1]; g.ID != gone || g.State != scanner.StateNotFound || !g.SoftDeleted() || !g.ConsumptionEndsAt.IsZero() {
		t.Errorf("the version no longer there: %+v", g)
	}
	if s := inv.Consumed[2]; s.ID != shared || s.Kind != scanner.ConsumedShared || s.SoftDeleted() || s.State != "Active" || len(s.Workloads) != 1 {
		t.Errorf("the shared version: %+v", s)
	}
}
