package scanner

import (
	"context"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// Workload is a VM or scale set and the image it is created from.
type Workload struct {
	Kind string // "vm" or "vmss"
	ID   string
	// ImageID is storageProfile.imageReference.id.
	ImageID string
	// ConsumedImageID is its sharedGalleryImageId or communityGalleryImageId: an image version of
	// another publisher's gallery; Location is the workload's, where that version is read.
	ConsumedImageID string
	Location        string
	// Flexible is a scale set in Flexible orchestration mode.
	Flexible bool
}

// LiveVersion is a live image version of an image definition in a soft-delete gallery.
type LiveVersion struct {
	ID                string
	Location          string
	ProvisioningState string
	// Bytes is what its replicas hold: the provisioned size of its OS and data disks times the
	// regions it is replicated to (one replica each is what a soft-deleted version keeps billed);
	// 0 when the listing does not say.
	Bytes int64
}

// Inventory is what the audit needs beyond the recycle bins: the workloads of every scanned
// subscription, and the live versions of the soft-delete galleries.
type Inventory struct {
	Workloads    []Workload
	LiveVersions []LiveVersion
	// Consumed are the other publishers' image versions the workloads are created from, as read.
	Consumed []ConsumedVersion
	Errors   []ScopeError
}

// InventoryScope is what the audit asks Inventory to read for snap: the workloads of its
// subscriptions, and the live versions of the image definitions in its soft-delete galleries and
// of those whose recycle bin holds a version (triage asks whether a newer one is live).
func InventoryScope(snap *Snapshot) (subscriptions []string, images []ImageDefinition) {
	for _, sub := range snap.Subscriptions {
		subscriptions = append(subscriptions, sub.ID)
	}
	softDelete := map[string]bool{}
	for _, g := range snap.Galleries {
		if g.SoftDeleteEnabled {
			softDelete[strings.ToLower(g.ID)] = true
		}
	}
	binned := map[string]bool{}
	for _, v := range snap.Versions {
		binned[strings.ToLower(v.Ref().GalleryID()+"/images/"+v.Image)] = true
	}
	for _, img := range snap.Images {
		if softDelete[strings.ToLower(strings.TrimSuffix(img.ID, "/images/"+img.Name))] || binned[strings.ToLower(img.ID)] {
			images = append(images, img)
		}
	}
	return subscriptions, images
}

// WorkloadScopes are the scopes Inventory reads a subscription's workloads under.
func WorkloadScopes(sub string) []string {
	return []string{"/subscriptions/" + sub + "/providers/Microsoft.Compute/virtualMachines",
		"/subscriptions/" + sub + "/providers/Microsoft.Compute/virtualMachineScaleSets"}
}

// Inventory lists the VMs and scale sets of subscriptions, and the live versions of images. Like
// Scan, a failing scope is recorded and the rest is read.
func (s *Scanner) Inventory(ctx context.Context, subscriptions []string, images []ImageDefinition) *Inventory {
	inv := &Inventory{}
	var mu sync.Mutex
	keep := func(scope string, w []Workload, v []LiveVersion, err error) {
		mu.Lock()
		defer mu.Unlock()
		inv.Workloads = append(inv.Workloads, w...)
		inv.LiveVersions = append(inv.LiveVersions, v...)
		if err != nil {
			inv.Errors = append(inv.Errors, scopeError(ctx, scope, err))
		}
	}
	p := newPool(s.opts.Pipeline.Wait)
	for _, sub := range subscriptions {
		c, err := s.clientsFor(sub)
		if err != nil {
			keep("/subscriptions/"+sub, nil, nil, err)
			continue
		}
		p.add(sub, func(ctx context.Context) {
			vms, err := collect(ctx, s.opts.MaxPages, c.vms.NewListAllPager(nil),
				func(p armcompute.VirtualMachinesClientListAllResponse) ([]*armcompute.VirtualMachine, *string) {
					return p.Value, p.NextLink
				}, vmWorkload)
			keep(WorkloadScopes(sub)[0], vms, nil, err)
		})
		p.add(sub, func(ctx context.Context) {
			sets, err := collect(ctx, s.opts.MaxPages, c.scaleSets.NewListAllPager(nil),
				func(p armcompute.VirtualMachineScaleSetsClientListAllResponse) ([]*armcompute.VirtualMachineScaleSet, *string) {
					return p.Value, p.NextLink
				}, scaleSetWorkload)
			keep(WorkloadScopes(sub)[1], sets, nil, err)
		})
	}
	discovered := s.discoveredLive.Load()
	for _, img := range images {
		if discovered != nil {
			if lv, ok := (*discovered)[strings.ToLower(img.ID)]; ok { // Resource Graph gave them with the scan
				keep(img.ID, nil, lv, nil)
				continue
			}
		}
		c, err := s.clientsFor(img.SubscriptionID)
		if err != nil {
			keep(img.ID, nil, nil, err)
			continue
		}
		p.add(img.SubscriptionID, func(ctx context.Context) {
			live, err := collect(ctx, s.opts.MaxPages, c.versions.NewListByGalleryImagePager(img.ResourceGroup, img.Gallery, img.Name, nil),
				func(p armcompute.GalleryImageVersionsClientListByGalleryImageResponse) ([]*armcompute.GalleryImageVersion, *string) {
					return p.Value, p.NextLink
				}, liveVersion)
			keep(img.ID, nil, live, err)
		})
	}
	p.run(ctx, s.opts.Concurrency)
	consumed, errs := s.readConsumed(ctx, inv.Workloads)
	inv.Consumed, inv.Errors = consumed, append(inv.Errors, errs...)
	return inv
}

// collect reads every page of one listing (eachPage's checks included) and keeps what conv
// makes of each item; conv's false skips an item too incomplete to use.
func collect[P, T, X any](ctx context.Context, maxPages int, pager *runtime.Pager[P], split func(P) ([]*T, *string), conv func(*T) (X, bool)) ([]X, error) {
	var out []X
	err := eachPage(ctx, maxPages, pager, split, func(page []*T) {
		for _, item := range page {
			if item == nil {
				continue
			}
			if x, ok := conv(item); ok {
				out = append(out, x)
			}
		}
	})
	return out, err
}

func vmWorkload(vm *armcompute.VirtualMachine) (Workload, bool) {
	if vm.ID == nil || vm.Properties == nil || vm.Properties.StorageProfile == nil || vm.Properties.StorageProfile.ImageReference == nil {
		return Workload{}, false
	}
	ref := vm.Properties.StorageProfile.ImageReference
	return Workload{Kind: "vm", ID: *vm.ID, ImageID: deref(ref.ID), ConsumedImageID: consumedImageID(ref), Location: ShortLocation(deref(vm.Location))}, true
}

func scaleSetWorkload(ss *armcompute.VirtualMachineScaleSet) (Workload, bool) {
	if ss.ID == nil || ss.Properties == nil {
		return Workload{}, false
	}
	w := Workload{Kind: "vmss", ID: *ss.ID, Location: ShortLocation(deref(ss.Location)),
		Flexible: ss.Properties.OrchestrationMode != nil && *ss.Properties.OrchestrationMode == armcompute.OrchestrationModeFlexible}
	if vp := ss.Properties.VirtualMachineProfile; vp != nil && vp.StorageProfile != nil && vp.StorageProfile.ImageReference != nil {
		w.ImageID = deref(vp.StorageProfile.ImageReference.ID)
		w.ConsumedImageID = consumedImageID(vp.StorageProfile.ImageReference)
	}
	return w, true
}

// consumedImageID is the image reference's shared or community gallery image version, or "".
func consumedImageID(ref *armcompute.ImageReference) string {
	if id := deref(ref.SharedGalleryImageID); id != "" {
		return id
	}
	return deref(ref.CommunityGalleryImageID)
}

// liveVersion is a live version; Location is empty when the version reports none (the audit
// reads that as its gallery's).
func liveVersion(v *armcompute.GalleryImageVersion) (LiveVersion, bool) {
	if v.ID == nil {
		return LiveVersion{}, false
	}
	lv := LiveVersion{ID: *v.ID, Location: ShortLocation(deref(v.Location))}
	if v.Properties != nil && v.Properties.ProvisioningState != nil {
		lv.ProvisioningState = string(*v.Properties.ProvisioningState)
	}
	lv.Bytes = replicaBytes(v.Properties)
	return lv, true
}

// replicaBytes is the provisioned size of a version's disks times its target regions (at least
// its own), 0 when no disk size is given.
func replicaBytes(p *armcompute.GalleryImageVersionProperties) int64 {
	if p == nil || p.StorageProfile == nil {
		return 0
	}
	var gb int64
	if d := p.StorageProfile.OSDiskImage; d != nil && d.SizeInGB != nil {
		gb += int64(*d.SizeInGB)
	}
	for _, d := range p.StorageProfile.DataDiskImages {
		if d != nil && d.SizeInGB != nil {
			gb += int64(*d.SizeInGB)
		}
	}
	regions := 1
	if p.PublishingProfile != nil && len(p.PublishingProfile.TargetRegions) > 0 {
		regions = len(p.PublishingProfile.TargetRegions)
	}
	return gb << 30 * int64(regions)
}
