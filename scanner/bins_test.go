package scanner_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/scanner"
)

// incrementalEstate is one subscription with n image definitions across 5 galleries, each with two
// live versions and one in the bin.
func incrementalEstate(n int) armsim.Estate {
	galleries := make([]armsim.Gallery, 5)
	for gi := range galleries {
		galleries[gi] = armsim.Gallery{Name: fmt.Sprintf("g%d", gi), ResourceGroup: "rg", Location: "West US",
			SoftDelete: &armsim.SoftDeletePolicy{Enabled: true}}
	}
	for i := range n {
		g := &galleries[i%5]
		g.Images = append(g.Images, armsim.Image{Name: fmt.Sprintf("img%04d", i), Versions: []string{"2.0.0", "3.0.0"},
			SoftDeleted: []armsim.SoftDeleted{{Version: "1.0.0", DeletedAt: t0.Add(-time.Hour)}}})
	}
	return armsim.Estate{Subscriptions: []armsim.Subscription{{ID: subA, Galleries: galleries}}}
}

func binListings(h *harness) int { return requests(h, "/softDeletedArtifactTypes/Images/artifacts/") }

// deleteVersion deletes a live version through the simulator's ARM API, as a cleanup script would.
func deleteVersion(t *testing.T, h *harness, gallery, image, version string) {
	t.Helper()
	path := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/galleries/%s/images/%s/versions/%s", subA, gallery, image, version)
	rec := httptest.NewRecorder()
	h.sim.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, path+"?api-version=2025-03-03", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("DELETE %s: %d %s", path, rec.Code, rec.Body)
	}
}

// On 5,000 image definitions of which 20 change between two scans 15 minutes apart, the second,
// incremental, scan lists at most a twentieth of the recycle bins a full scan lists (the 20 that
// changed, and the share of the 6-hour reconcile that falls due), and finds every version deleted
// meanwhile, as a full scan would.
func TestAnIncrementalScanListsOnlyWhatMayHaveChanged(t *testing.T) {
	const n = 5000
	h := newHarness(t, incrementalEstate(n), harnessOpts{scanner: scanner.Options{Subscriptions: []string{subA},
		Discovery: scanner.DiscoveryResourceGraph, Incremental: true}})
	start := h.clock.Now()
	first := scan(t, h) // its reads wait on the budget: the fake clock moves about 3 minutes
	full := binListings(h)
	if len(first.Errors) != 0 || len(first.Versions) != n || full != n || first.Stats.BinsCarried != 0 {
		t.Fatalf("first scan: %d versions, %d listings, %d carried, errors %+v", len(first.Versions), full, first.Stats.BinsCarried, first.Errors)
	}

	var deleted []string
	for i := 0; i < n; i += n / 20 {
		image := fmt.Sprintf("img%04d", i)
		deleteVersion(t, h, fmt.Sprintf("g%d", i%5), image, "2.0.0")
		deleted = append(deleted, image+"/versions/2.0.0")
	}
	h.clock.Set(start.Add(15 * time.Minute)) // the next scheduled scan
	before := len(h.sim.Requests())
	second := scan(t, h)
	listed := binListings(h) - full
	if requestsMade := len(h.sim.Requests()) - before; requestsMade > (full+3)/20 {
		t.Errorf("the incremental scan made %d requests (%d bin listings); a full one makes %d", requestsMade, listed, full+3)
	}
	t.Logf("incremental: %d requests, %d bin listings; a full scan %d requests", len(h.sim.Requests())-before, listed, full+3)
	if len(second.Errors) != 0 || len(second.Versions) != n+20 || second.Stats.BinsCarried != n-listed {
		t.Fatalf("second scan: %d versions, %d listed, %d carried, errors %+v", len(second.Versions), listed, second.Stats.BinsCarried, second.Errors)
	}
	var found []string
	for _, v := range second.Versions {
		if v.Version == "2.0.0" {
			found = append(found, v.Image+"/versions/2.0.0")
		}
	}
	slices.Sort(found)
	if !slices.Equal(found, deleted) {
		t.Errorf("versions deleted between the scans: found %d of %d", len(found), len(deleted))
	}
	// A fresh scanner, with no memory of the bins, lists them all and finds the same.
	fresh := scanner.New(scanner.Options{Pipeline: h.pl, Clock: h.clock, Subscriptions: []string{subA}, Discovery: scanner.DiscoveryResourceGraph})
	full2, err := fresh.Scan(t.Context())
	if err != nil || !slices.Equal(versionIDs(second), versionIDs(full2)) {
		t.Errorf("the incremental scan's versions differ from a full scan's of the same estate (%v)", err)
	}
}

// A bin whose listing failed is listed again at the next scan, whatever else says; one whose
// reconcile is due too, so that over the period every bin is read again.
func TestFailedAndDueBinsAreListedAgain(t *testing.T) {
	h := newHarness(t, incrementalEstate(50), harnessOpts{scanner: scanner.Options{Subscriptions: []string{subA},
		Discovery: scanner.DiscoveryResourceGraph, Incremental: true, FullEvery: time.Hour}})
	scope := "/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.Compute/galleries/g0/images/img0000"
	h.sim.Inject(armsim.Fault{Scope: scope, Status: 500, Code: "InternalError", Times: 4}) // outlasts azcore's retries
	first := scan(t, h)
	if len(first.Errors) != 1 {
		t.Fatalf("errors %+v, want img0000's", first.Errors)
	}
	h.clock.Advance(time.Minute)
	listedBefore := requests(h, "/artifacts/img0000/")
	if second := scan(t, h); len(second.Errors) != 0 || requests(h, "/artifacts/img0000/") == listedBefore {
		t.Errorf("the failed bin was not listed again: errors %+v", second.Errors)
	}
	// Within the hour every bin has been listed again, a few at a time.
	counted := binListings(h)
	for range 12 {
		h.clock.Advance(5 * time.Minute)
		scan(t, h)
	}
	if again := binListings(h) - counted; again < 50 || again > 50+12 {
		t.Errorf("%d listings over an hour of 5-minute scans; want each of the 50 bins about once", again)
	}
}

// The memory of the bins lives in the state file: a restarted purgewatch (a new Scanner on the
// same file) scans incrementally from its first scan, and a version deleted while it was down is
// found.
func TestTheBinsAreRememberedAcrossARestart(t *testing.T) {
	const n = 500
	path := filepath.Join(t.TempDir(), "state.db")
	store, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := scanner.Options{Subscriptions: []string{subA}, Discovery: scanner.DiscoveryResourceGraph, Incremental: true, BinMemory: store}
	h := newHarness(t, incrementalEstate(n), harnessOpts{scanner: opts})
	start := h.clock.Now()
	if first := scan(t, h); len(first.Versions) != n || binListings(h) != n {
		t.Fatalf("first scan: %d versions, %d listings", len(first.Versions), binListings(h))
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	deleteVersion(t, h, "g1", "img0001", "3.0.0") // while purgewatch is down
	if store, err = state.Open(path); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	opts.BinMemory, opts.Pipeline, opts.Clock = store, h.pl, h.clock
	restarted := scanner.New(opts)
	h.clock.Set(start.Add(15 * time.Minute))
	listed := binListings(h)
	snap, err := restarted.Scan(t.Context())
	if err != nil || len(snap.Errors) != 0 {
		t.Fatalf("%v %+v", err, snap.Errors)
	}
	if again := binListings(h) - listed; again > n/20 || snap.Stats.BinsCarried < n-n/20 {
		t.Errorf("after the restart: %d bins listed, %d carried; the memory was lost", again, snap.Stats.BinsCarried)
	}
	if !slices.ContainsFunc(snap.Versions, func(v scanner.Version) bool { return v.Image == "img0001" && v.Version == "3.0.0" }) || len(snap.Versions) != n+1 {
		t.Errorf("%d versions; the one deleted while purgewatch was down is missing", len(snap.Versions))
	}
}

// A remembered bin whose versions name another image definition (a state file edited or corrupted)
// is not carried: its versions would be announced under the wrong image. The bin is listed again
// and the scan has each version once, under its own image.
func TestABinRecordNamingAnotherDefinitionIsListedAgain(t *testing.T) {
	const n = 50
	store, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	opts := scanner.Options{Subscriptions: []string{subA}, Discovery: scanner.DiscoveryResourceGraph, Incremental: true, BinMemory: store}
	h := newHarness(t, incrementalEstate(n), harnessOpts{scanner: opts})
	start := h.clock.Now()
	scan(t, h)

	saved, err := store.LoadBins()
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for k := range saved {
		if strings.HasSuffix(k, "/images/img0002") {
			key = k
		}
	}
	tampered := strings.ReplaceAll(string(saved[key]), `"image":"img0002"`, `"image":"img0007"`)
	if key == "" || tampered == string(saved[key]) {
		t.Fatalf("no record of img0002 to tamper with in %d records", len(saved))
	}
	if err := store.SaveBins(map[string][]byte{key: []byte(tampered)}, nil); err != nil {
		t.Fatal(err)
	}

	opts.Pipeline, opts.Clock = h.pl, h.clock
	restarted := scanner.New(opts)
	h.clock.Set(start.Add(15 * time.Minute))
	listed := binListings(h)
	snap, err := restarted.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	perImage := map[string]int{}
	for _, v := range snap.Versions {
		perImage[v.Image]++
	}
	if len(snap.Versions) != n || perImage["img0002"] != 1 || perImage["img0007"] != 1 {
		t.Errorf("%d versions, img0002 %d, img0007 %d: the tampered record was carried", len(snap.Versions), perImage["img0002"], perImage["img0007"])
	}
	if binListings(h) == listed {
		t.Error("the tampered bin was not listed again")
	}
}
