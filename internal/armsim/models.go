package armsim

import (
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// The service writes softDeletedTime as a plain string with a numeric offset.
const softDeletedLayout = "2006-01-02T15:04:05-07:00"

func galleryID(sub string, g *Gallery) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + g.ResourceGroup + "/providers/Microsoft.Compute/galleries/" + g.Name
}

func galleryModel(sub string, g *Gallery) *armcompute.Gallery {
	m := &armcompute.Gallery{
		ID: to.Ptr(galleryID(sub, g)), Name: to.Ptr(g.Name), Location: to.Ptr(g.Location),
		Type: to.Ptr("Microsoft.Compute/galleries"), Tags: ptrTags(g.Tags),
		Properties: &armcompute.GalleryProperties{
			Identifier:        &armcompute.GalleryIdentifier{UniqueName: to.Ptr(sub + "-" + g.Name)},
			ProvisioningState: to.Ptr(armcompute.GalleryProvisioningStateSucceeded),
		},
	}
	if p := g.SoftDelete; p != nil {
		pol := &armcompute.SoftDeletePolicy{IsSoftDeleteEnabled: to.Ptr(p.Enabled)}
		if p.RetentionDays != nil {
			pol.RetentionPeriodInDays = to.Ptr(int32(*p.RetentionDays))
		}
		if p.GraceDays != nil {
			pol.GracePeriodInDays = to.Ptr(int32(*p.GraceDays))
		}
		m.Properties.SoftDeletePolicy = pol
	}
	return m
}

func imageModel(sub string, g *Gallery, img *Image) *armcompute.GalleryImage {
	return &armcompute.GalleryImage{
		ID: to.Ptr(galleryID(sub, g) + "/images/" + img.Name), Name: to.Ptr(img.Name), Location: to.Ptr(g.Location),
		Type: to.Ptr("Microsoft.Compute/galleries/images"), Tags: ptrTags(img.Tags),
		Properties: &armcompute.GalleryImageProperties{
			OSType:            to.Ptr(armcompute.OperatingSystemTypesLinux),
			OSState:           to.Ptr(armcompute.OperatingSystemStateTypesGeneralized),
			Identifier:        &armcompute.GalleryImageIdentifier{Publisher: to.Ptr("purgewatch"), Offer: to.Ptr(g.Name), SKU: to.Ptr(img.Name)},
			ProvisioningState: to.Ptr(armcompute.GalleryProvisioningStateSucceeded),
		},
	}
}

func versionModel(sub string, g *Gallery, img *Image, v string) *armcompute.GalleryImageVersion {
	size := img.SizeGB
	if size == 0 {
		size = 30
	}
	regions := []*armcompute.TargetRegion{{Name: to.Ptr(g.Location)}}
	for _, r := range img.Regions {
		regions = append(regions, &armcompute.TargetRegion{Name: to.Ptr(r)})
	}
	state := armcompute.GalleryProvisioningStateSucceeded
	if slices.Contains(img.Failed, v) {
		state = armcompute.GalleryProvisioningStateFailed
	}
	return &armcompute.GalleryImageVersion{
		ID:   to.Ptr(galleryID(sub, g) + "/images/" + img.Name + "/versions/" + v),
		Name: to.Ptr(v), Location: to.Ptr(g.Location), Type: to.Ptr("Microsoft.Compute/galleries/images/versions"),
		Properties: &armcompute.GalleryImageVersionProperties{
			ProvisioningState: to.Ptr(state),
			StorageProfile:    &armcompute.GalleryImageVersionStorageProfile{OSDiskImage: &armcompute.GalleryOSDiskImage{SizeInGB: to.Ptr(int32(size))}},
			PublishingProfile: &armcompute.GalleryImageVersionPublishingProfile{TargetRegions: regions},
		},
	}
}

func softDeletedModel(sub string, g *Gallery, img *Image, sd *SoftDeleted) *armcompute.GallerySoftDeletedResource {
	loc := sd.Location
	if loc == "" {
		loc = g.Location
	}
	deleted := sd.DeletedAtText
	if deleted == "" {
		deleted = sd.DeletedAt.UTC().Format(softDeletedLayout)
	}
	m := &armcompute.GallerySoftDeletedResource{
		ID:       to.Ptr(galleryID(sub, g) + "/softDeletedArtifactTypes/Images/artifacts/" + img.Name + "/versions/" + sd.Version),
		Name:     to.Ptr(sd.Version),
		Type:     to.Ptr("Microsoft.Compute/galleries/softDeletedArtifactTypes/artifacts/versions"),
		Location: to.Ptr(loc),
		Properties: &armcompute.GallerySoftDeletedResourceProperties{
			ResourceArmID:           to.Ptr(galleryID(sub, g) + "/images/" + img.Name + "/versions/" + sd.Version),
			SoftDeletedArtifactType: to.Ptr(armcompute.SoftDeletedArtifactTypesImages),
			SoftDeletedTime:         to.Ptr(deleted),
		},
	}
	if g.ServiceTimes {
		retention, grace := g.retention()
		end := sd.DeletedAt.UTC().Add(time.Duration(retention) * 24 * time.Hour)
		m.Properties.ConsumptionEndTime = to.Ptr(end)
		m.Properties.HardDeletionTargetTime = to.Ptr(end.Add(time.Duration(grace) * 24 * time.Hour))
	}
	return m
}

func ptrTags(t map[string]string) map[string]*string {
	if len(t) == 0 {
		return nil
	}
	out := make(map[string]*string, len(t))
	for k, v := range t {
		out[k] = to.Ptr(v)
	}
	return out
}
