package scanner

import (
	"context"
	"fmt"
	"strings"

	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// VersionRef names one image version.
type VersionRef struct {
	SubscriptionID, ResourceGroup, Gallery, Image, Version string
}

// ParseVersionID reads an image version's ARM id (.../galleries/G/images/I/versions/V).
func ParseVersionID(id string) (VersionRef, error) {
	rid, err := azarm.ParseResourceID(id)
	if err != nil {
		return VersionRef{}, fmt.Errorf("%q is not an ARM id: %w", id, err)
	}
	if !strings.EqualFold(rid.ResourceType.String(), "Microsoft.Compute/galleries/images/versions") {
		return VersionRef{}, fmt.Errorf("%q is not a gallery image version id (.../galleries/G/images/I/versions/V)", id)
	}
	return VersionRef{SubscriptionID: strings.ToLower(rid.SubscriptionID), ResourceGroup: rid.ResourceGroupName,
		Gallery: rid.Parent.Parent.Name, Image: rid.Parent.Name, Version: rid.Name}, nil
}

// ID is the version's ARM id.
func (r VersionRef) ID() string {
	return r.GalleryID() + "/images/" + r.Image + "/versions/" + r.Version
}

// GalleryID is the ARM id of the version's gallery.
func (r VersionRef) GalleryID() string {
	return "/subscriptions/" + r.SubscriptionID + "/resourceGroups/" + r.ResourceGroup + "/providers/Microsoft.Compute/galleries/" + r.Gallery
}

// Found is one version looked up on its own.
type Found struct {
	Gallery Gallery
	// InRecycleBin is the version as it sits in the recycle bin, priced; nil when it is not there.
	InRecycleBin *Version
	// Live says the live version exists.
	Live bool
}

// Find reads the version's gallery, its image definition's recycle bin and the live version.
func (s *Scanner) Find(ctx context.Context, ref VersionRef) (*Found, error) {
	c, err := s.clientsFor(ref.SubscriptionID)
	if err != nil {
		return nil, err
	}
	g, err := c.galleries.Get(ctx, ref.ResourceGroup, ref.Gallery, nil)
	if err != nil {
		return nil, fmt.Errorf("reading gallery %s: %w", ref.GalleryID(), err)
	}
	gal, err := newGallery(ref.SubscriptionID, &g.Gallery, s.opts.DefaultRetentionDays)
	if err != nil {
		return nil, err
	}
	f := &Found{Gallery: gal}
	policy := Policy{RetentionDays: gal.RetentionDays, GraceDays: gal.GraceDays}
	var bad error
	err = eachPage(ctx, s.opts.MaxPages, c.softDeleted.NewListByArtifactNamePager(ref.ResourceGroup, ref.Gallery, "Images", ref.Image, nil),
		func(p armcompute.SoftDeletedResourceClientListByArtifactNameResponse) ([]*armcompute.GallerySoftDeletedResource, *string) {
			return p.Value, p.NextLink
		},
		func(page []*armcompute.GallerySoftDeletedResource) {
			for _, item := range page {
				if f.InRecycleBin != nil || item == nil || item.Name == nil || !strings.EqualFold(*item.Name, ref.Version) {
					continue
				}
				v, err := version(gal, &Definition{SubscriptionID: gal.SubscriptionID, ResourceGroup: gal.ResourceGroup,
					Gallery: gal.Name, Image: ref.Image}, item, policy)
				if err != nil {
					bad = err
					continue
				}
				f.InRecycleBin = &v
			}
		})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, fmt.Errorf("reading the recycle bin of %s/images/%s: %w", ref.GalleryID(), ref.Image, err)
	}
	if f.Live, err = exists(ctx, c, ref); err != nil {
		return nil, err
	}
	return f, nil
}
