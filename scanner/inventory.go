package scanner

import (
	"context"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// Workload is a VM or scale set and the image it is created from.
type Workload struct {
	Kind string // "vm" or "vmss"
	ID   string
	// ImageID is storageProfile.imageReference.id.
	ImageID string
	// Flexible is a scale set in Flexible orchestration mode.
	Flexible bool
}

// LiveVersion is a live image version of an image definition in a soft-delete gallery.
type LiveVersion struct {
	ID                string
	Location          string
	ProvisioningState string
}

// Inventory is what the audit needs beyond the recycle bins: the workloads of every scanned
// subscription, and the live versions of the soft-delete galleries.
type Inventory struct {
	Workloads    []Workload
	LiveVersions []LiveVersion
	Errors       []ScopeError
}

// Inventory lists VMs and scale sets in the snapshot's subscriptions, and the live versions of
// the image definitions in its soft-delete galleries. Like Scan, a failing scope is recorded and
// the rest is read.
func (s *Scanner) Inventory(ctx context.Context, snap *Snapshot) *Inventory {
	inv := &Inventory{}
	var mu sync.Mutex
	fail := func(scope string, err error) {
		mu.Lock()
		defer mu.Unlock()
		inv.Errors = append(inv.Errors, scopeError(ctx, scope, err))
	}
	add := func(w []Workload, v []LiveVersion) {
		mu.Lock()
		defer mu.Unlock()
		inv.Workloads = append(inv.Workloads, w...)
		inv.LiveVersions = append(inv.LiveVersions, v...)
	}
	p := newPool()
	for _, sub := range snap.Subscriptions {
		c, err := s.clientsFor(sub.ID)
		if err != nil {
			fail("/subscriptions/"+sub.ID, err)
			continue
		}
		p.add(func(ctx context.Context) {
			var found []Workload
			err := eachPage(ctx, s.opts.MaxPages, c.vms.NewListAllPager(nil),
				func(p armcompute.VirtualMachinesClientListAllResponse) ([]*armcompute.VirtualMachine, *string) {
					return p.Value, p.NextLink
				},
				func(page []*armcompute.VirtualMachine) {
					for _, vm := range page {
						if vm == nil || vm.ID == nil || vm.Properties == nil || vm.Properties.StorageProfile == nil || vm.Properties.StorageProfile.ImageReference == nil {
							continue
						}
						found = append(found, Workload{Kind: "vm", ID: *vm.ID, ImageID: deref(vm.Properties.StorageProfile.ImageReference.ID)})
					}
				})
			if err != nil {
				fail("/subscriptions/"+sub.ID+"/providers/Microsoft.Compute/virtualMachines", err)
			}
			add(found, nil)
		})
		p.add(func(ctx context.Context) {
			var found []Workload
			err := eachPage(ctx, s.opts.MaxPages, c.scaleSets.NewListAllPager(nil),
				func(p armcompute.VirtualMachineScaleSetsClientListAllResponse) ([]*armcompute.VirtualMachineScaleSet, *string) {
					return p.Value, p.NextLink
				},
				func(page []*armcompute.VirtualMachineScaleSet) {
					for _, ss := range page {
						if ss == nil || ss.ID == nil || ss.Properties == nil {
							continue
						}
						w := Workload{Kind: "vmss", ID: *ss.ID,
							Flexible: ss.Properties.OrchestrationMode != nil && *ss.Properties.OrchestrationMode == armcompute.OrchestrationModeFlexible}
						if vp := ss.Properties.VirtualMachineProfile; vp != nil && vp.StorageProfile != nil && vp.StorageProfile.ImageReference != nil {
							w.ImageID = deref(vp.StorageProfile.ImageReference.ID)
						}
						found = append(found, w)
					}
				})
			if err != nil {
				fail("/subscriptions/"+sub.ID+"/providers/Microsoft.Compute/virtualMachineScaleSets", err)
			}
			add(found, nil)
		})
	}
	softDelete := map[string]Gallery{}
	for _, g := range snap.Galleries {
		if g.SoftDeleteEnabled {
			softDelete[strings.ToLower(g.ID)] = g
		}
	}
	for _, img := range snap.Images {
		g, ok := softDelete[strings.ToLower(strings.TrimSuffix(img.ID, "/images/"+img.Name))]
		if !ok {
			continue
		}
		c, err := s.clientsFor(img.SubscriptionID)
		if err != nil {
			continue
		}
		p.add(func(ctx context.Context) {
			var found []LiveVersion
			err := eachPage(ctx, s.opts.MaxPages, c.versions.NewListByGalleryImagePager(img.ResourceGroup, img.Gallery, img.Name, nil),
				func(p armcompute.GalleryImageVersionsClientListByGalleryImageResponse) ([]*armcompute.GalleryImageVersion, *string) {
					return p.Value, p.NextLink
				},
				func(page []*armcompute.GalleryImageVersion) {
					for _, v := range page {
						if v == nil || v.ID == nil {
							continue
						}
						lv := LiveVersion{ID: *v.ID, Location: ShortLocation(deref(v.Location))}
						if lv.Location == "" {
							lv.Location = g.Location
						}
						if v.Properties != nil && v.Properties.ProvisioningState != nil {
							lv.ProvisioningState = string(*v.Properties.ProvisioningState)
						}
						found = append(found, lv)
					}
				})
			if err != nil {
				fail(img.ID, err)
			}
			add(nil, found)
		})
	}
	p.run(ctx, s.opts.Concurrency)
	return inv
}
