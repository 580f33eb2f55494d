package scanner_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/scanner"
)

// readFixture loads one of the REST API specification's example bodies, with the example's
// {subscription-id} placeholder filled in.
func readFixture(t *testing.T, name, sub string, into any) {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), "{subscription-id}", sub))
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestScanThroughTheSDKFakeServer drives the scanner through armcompute/v8's own fake server with
// the specification's example payloads, one gallery per api-version shape.
func TestScanThroughTheSDKFakeServer(t *testing.T) {
	var g2024, g2026 armcompute.Gallery
	readFixture(t, "gallery-soft-delete-enabled-2024-03-03.json", subA, &g2024)
	readFixture(t, "gallery-soft-delete-enabled-2026-03-03.rebuilt.json", subA, &g2026)
	g2026.Name = ptr("newGallery")
	g2026.ID = ptr(strings.Replace(*g2026.ID, "myGalleryName", "newGallery", 1))
	var bin2024, bin2026 armcompute.GallerySoftDeletedResourceList
	readFixture(t, "softdeleted-list-2024-03-03.json", subA, &bin2024)
	readFixture(t, "softdeleted-list-2026-03-03.rebuilt.json", subA, &bin2026)
	bin2024.NextLink, bin2026.NextLink = nil, nil // the examples' links point at another host
	// Both examples name myGalleryName; the 2026 one is served as newGallery, so its entry says so.
	bin2026.Value[0].Properties.ResourceArmID = ptr(strings.Replace(*bin2026.Value[0].Properties.ResourceArmID, "myGalleryName", "newGallery", 1))

	srv := &fake.ServerFactory{
		GalleriesServer: fake.GalleriesServer{
			NewListPager: func(*armcompute.GalleriesClientListOptions) (resp azfake.PagerResponder[armcompute.GalleriesClientListResponse]) {
				resp.AddPage(200, armcompute.GalleriesClientListResponse{GalleryList: armcompute.GalleryList{Value: []*armcompute.Gallery{&g2024, &g2026}}}, nil)
				return resp
			},
		},
		GalleryImagesServer: fake.GalleryImagesServer{
			NewListByGalleryPager: func(rg, gallery string, _ *armcompute.GalleryImagesClientListByGalleryOptions) (resp azfake.PagerResponder[armcompute.GalleryImagesClientListByGalleryResponse]) {
				resp.AddPage(200, armcompute.GalleryImagesClientListByGalleryResponse{GalleryImageList: armcompute.GalleryImageList{
					Value: []*armcompute.GalleryImage{{Name: ptr("myGalleryImageName")}}}}, nil)
				return resp
			},
		},
		SoftDeletedResourceServer: fake.SoftDeletedResourceServer{
			NewListByArtifactNamePager: func(rg, gallery, artifactType, image string, _ *armcompute.SoftDeletedResourceClientListByArtifactNameOptions) (resp azfake.PagerResponder[armcompute.SoftDeletedResourceClientListByArtifactNameResponse]) {
				list := bin2024
				if gallery == "newGallery" {
					list = bin2026
				}
				if artifactType != "Images" || image != "myGalleryImageName" || rg != "myResourceGroup" {
					t.Errorf("recycle bin asked for %s/%s/%s/%s", rg, gallery, artifactType, image)
				}
				resp.AddPage(200, armcompute.SoftDeletedResourceClientListByArtifactNameResponse{GallerySoftDeletedResourceList: list}, nil)
				return resp
			},
		},
	}
	pl, err := arm.New(arm.Options{Transport: fake.NewServerFactoryTransport(srv), Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	s := scanner.New(scanner.Options{Pipeline: pl, Credential: &azfake.TokenCredential{},
		Subscriptions: []string{subA}, DefaultRetentionDays: 7})
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Errors) != 0 || len(snap.Versions) != 2 {
		t.Fatalf("versions %d, errors %+v", len(snap.Versions), snap.Errors)
	}
	deleted := time.Date(2024, 10, 17, 13, 1, 5, 0, time.UTC)
	old, newer := snap.Versions[0], snap.Versions[1] // soonest purge first
	if old.Gallery != "myGalleryName" || !old.SoftDeletedAt.Equal(deleted) || !old.PurgeAt.Equal(deleted.Add(7*day)) ||
		old.PurgeAtSource != scanner.SourceComputed || old.Location != "westus" {
		t.Errorf("2024-03-03 version = %+v", old)
	}
	if newer.Gallery != "newGallery" || newer.PurgeAtSource != scanner.SourceService ||
		!newer.PurgeAt.Equal(time.Date(2024, 11, 23, 13, 1, 5, 0, time.UTC)) ||
		!newer.ConsumptionEndsAt.Equal(time.Date(2024, 11, 16, 13, 1, 5, 0, time.UTC)) {
		t.Errorf("2026-03-03 version = %+v", newer)
	}
	wantID := "/subscriptions/" + subA + "/resourceGroups/myResourceGroup/providers/Microsoft.Compute/galleries/myGalleryName/images/myGalleryImageName/versions/1.0.0"
	if old.ID() != wantID {
		t.Errorf("id = %s, want the live version's id %s", old.ID(), wantID)
	}
	for _, g := range snap.Galleries {
		if g.Name == "newGallery" && (g.RetentionDays != 7 || g.GraceDays != 30) {
			t.Errorf("2026 gallery policy = %+v", g)
		}
	}
}

func ptr[T any](v T) *T { return &v }
