package armsim

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// consumedVersion answers a shared- or community-gallery image version, shaped as the REST
// specification's examples (SharedGalleryImageVersion_Get, CommunityGalleryImageVersion_Get).
func (s *Server) consumedVersion(rt target) (any, int) {
	for _, c := range s.estate.Consumed {
		if !strings.EqualFold(c.Kind, rt.consumedKind) || !strings.EqualFold(c.Gallery, rt.gallery) || !strings.EqualFold(c.Image, rt.image) ||
			!strings.EqualFold(c.Version, rt.version) || !strings.EqualFold(strings.ReplaceAll(c.Location, " ", ""), strings.ReplaceAll(rt.rg, " ", "")) {
			continue
		}
		state := armcompute.GalleryImageVersionState(orDefault(c.State, "Active"))
		props := armcompute.SharedGalleryImageVersionProperties{ImageState: &state, ExcludeFromLatest: to.Ptr(false)}
		if !c.ConsumptionEnd.IsZero() {
			props.ConsumptionEndTime = to.Ptr(c.ConsumptionEnd.UTC())
		}
		if c.Kind == "shared" {
			return armcompute.SharedGalleryImageVersion{Name: to.Ptr(c.Version), Location: to.Ptr(rt.rg),
				Identifier: &armcompute.SharedGalleryIdentifier{UniqueID: to.Ptr("/SharedGalleries/" + c.Gallery + "/Images/" + c.Image + "/Versions/" + c.Version)},
				Properties: &props}, http.StatusOK
		}
		return armcompute.CommunityGalleryImageVersion{Name: to.Ptr(c.Version), Location: to.Ptr(rt.rg), Type: to.Ptr("Microsoft.Compute/Locations/CommunityGalleryImageVersion"),
			Identifier: &armcompute.CommunityGalleryIdentifier{UniqueID: to.Ptr("/CommunityGalleries/" + c.Gallery + "/Images/" + c.Image + "/Versions/" + c.Version)},
			Properties: &armcompute.CommunityGalleryImageVersionProperties{ImageState: props.ImageState, ConsumptionEndTime: props.ConsumptionEndTime,
				ExcludeFromLatest: props.ExcludeFromLatest}}, http.StatusOK
	}
	return errorBody("ResourceNotFound", fmt.Sprintf("The gallery image version '%s' of image '%s' in gallery '%s' was not found.", rt.version, rt.image, rt.gallery)), http.StatusNotFound
}

// imageReference names a gallery image version by ARM id, or another publisher's by its shared
// or community id, as a VM's storage profile does.
func imageReference(id string) *armcompute.ImageReference {
	low := strings.ToLower(id)
	switch {
	case strings.HasPrefix(low, "/sharedgalleries/"):
		return &armcompute.ImageReference{SharedGalleryImageID: to.Ptr(id)}
	case strings.HasPrefix(low, "/communitygalleries/"):
		return &armcompute.ImageReference{CommunityGalleryImageID: to.Ptr(id)}
	}
	return &armcompute.ImageReference{ID: to.Ptr(id)}
}
