package scanner_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/scanner"
)

const day = 24 * time.Hour

func scan(t *testing.T, h *harness) *scanner.Snapshot {
	t.Helper()
	snap, err := h.scanner.Scan(context.Background())
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return snap
}

func versionByName(t *testing.T, snap *scanner.Snapshot, name string) scanner.Version {
	t.Helper()
	for _, v := range snap.Versions {
		if v.Version == name {
			return v
		}
	}
	t.Fatalf("version %s not in snapshot (have %d versions)", name, len(snap.Versions))
	return scanner.Version{}
}

func TestScanFindsAndPricesEveryVersion(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{scanner: scanner.Options{DefaultRetentionDays: 7}})
	snap := scan(t, h)

	if len(snap.Errors) != 0 {
		t.Fatalf("errors: %+v", snap.Errors)
	}
	if got := len(snap.Versions); got != 4 {
		t.Fatalf("versions = %d, want 4", got)
	}
	// Soonest purge first.
	var order []string
	for _, v := range snap.Versions {
		order = append(order, v.Version)
	}
	if want := []string{"1.0.0", "0.9.0", "1.0.1", "2.0.0"}; !slices.Equal(order, want) {
		t.Errorf("order = %v, want %v", order, want)
	}

	v := versionByName(t, snap, "1.0.0")
	wantID := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/Microsoft.Compute/galleries/g2024/images/ubuntu/versions/1.0.0"
	if v.ID() != wantID || v.Location != "westus" || v.ResourceGroup != "rg1" || v.Gallery != "g2024" || v.Image != "ubuntu" {
		t.Errorf("identity = %+v", v)
	}
	if !v.PurgeAt.Equal(t0.Add(day)) || v.PurgeAtSource != scanner.SourceComputed || !v.ConsumptionEndsAt.Equal(v.PurgeAt) {
		t.Errorf("2024-shape pricing: purge %v (%s), consumption end %v", v.PurgeAt, v.PurgeAtSource, v.ConsumptionEndsAt)
	}
	if v.Tags["owner"] != "team-a" || v.Tags["os"] != "linux" {
		t.Errorf("tags = %v, want the gallery's and the image's", v.Tags)
	}

	// A gallery with soft delete off is scanned too.
	if v := versionByName(t, snap, "0.9.0"); v.Gallery != "offgallery" {
		t.Errorf("0.9.0 in %s", v.Gallery)
	}

	// api-2026: the service's times win.
	w := versionByName(t, snap, "2.0.0")
	if w.PurgeAtSource != scanner.SourceService || !w.PurgeAt.Equal(t0.Add(29*day)) || !w.ConsumptionEndsAt.Equal(t0.Add(-day)) {
		t.Errorf("2026-shape pricing: %+v", w)
	}

	gal := map[string]scanner.Gallery{}
	for _, g := range snap.Galleries {
		gal[g.Name] = g
	}
	if g := gal["offgallery"]; g.SoftDeleteEnabled || g.RetentionDays != 7 {
		t.Errorf("offgallery = %+v", g)
	}
	if g := gal["g2026"]; !g.SoftDeleteEnabled || g.RetentionDays != 7 || g.GraceDays != 30 || g.Location != "eastus2" {
		t.Errorf("g2026 = %+v", g)
	}
	if st := snap.Stats; st.Subscriptions != 2 || st.Galleries != 3 || st.Images != 4 || st.Versions != 4 {
		t.Errorf("stats = %+v", st)
	}
	for _, s := range snap.Subscriptions {
		if !s.Complete {
			t.Errorf("subscription %s incomplete", s.ID)
		}
	}
}

func TestScanFollowsEveryNextLink(t *testing.T) {
	estate := armsim.Estate{}
	for _, sub := range []string{subA, subB} {
		s := armsim.Subscription{ID: sub}
		for g := range 3 {
			gal := armsim.Gallery{Name: "g" + string(rune('a'+g)), ResourceGroup: "rg", Location: "West US"}
			for i := range 3 {
				img := armsim.Image{Name: "img" + string(rune('a'+i))}
				for v := range 5 {
					img.SoftDeleted = append(img.SoftDeleted, armsim.SoftDeleted{Version: "1.0." + string(rune('0'+v)), DeletedAt: t0.Add(-time.Duration(v) * time.Hour)})
				}
				gal.Images = append(gal.Images, img)
			}
			s.Galleries = append(s.Galleries, gal)
		}
		estate.Subscriptions = append(estate.Subscriptions, s)
	}
	h := newHarness(t, estate, harnessOpts{sim: armsim.Options{PageSize: 2}})
	snap := scan(t, h)
	if got, want := len(snap.Versions), 2*3*3*5; got != want {
		t.Fatalf("versions = %d, want %d (paging lost some)", got, want)
	}
	paged := 0
	for _, r := range h.sim.Requests() {
		if strings.Contains(r, "skiptoken") {
			paged++
		}
	}
	// Galleries: 1 extra page per subscription; images: 1 per gallery; recycle bins: 2 per image.
	if want := 2 + 6 + 36; paged != want {
		t.Errorf("next-page requests = %d, want %d", paged, want)
	}
}

func TestScanWaitsOutLongRetryAfter(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	scope := "/subscriptions/" + subB + "/resourceGroups/rg2/providers/Microsoft.Compute/galleries/g2026/images/win"
	h.sim.Inject(armsim.Fault{Scope: scope, Status: http.StatusTooManyRequests, Code: "TooManyRequests",
		Message: "slow down", RetryAfter: 120 * time.Second, Times: 1})

	snap := scan(t, h)
	if len(snap.Errors) != 0 {
		t.Fatalf("a 429 with Retry-After 120s lost the scope: %+v", snap.Errors)
	}
	versionByName(t, snap, "2.0.0")
	if !slices.Contains(h.clock.Sleeps(), 120*time.Second) {
		t.Errorf("sleeps = %v, want one of 120s (beyond azcore's 60s cap)", h.clock.Sleeps())
	}
	if snap.Stats.Throttled != 1 {
		t.Errorf("throttled = %d, want 1", snap.Stats.Throttled)
	}
}

func TestScanGivesUpOnThrottlingPastTheDeadline(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	scope := "/subscriptions/" + subB + "/resourceGroups/rg2/providers/Microsoft.Compute/galleries/g2026/images/win"
	h.sim.Inject(armsim.Fault{Scope: scope, Status: http.StatusTooManyRequests, Code: "TooManyRequests",
		Message: "slow down", RetryAfter: time.Hour})
	// The deadline is on the wall clock, as in production: put the fake clock there too.
	h.clock.Set(time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	snap, err := h.scanner.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Errors) != 1 || snap.Errors[0].Reason != scanner.ReasonThrottled || snap.Errors[0].Scope != scope {
		t.Fatalf("errors = %+v, want one throttled error on %s", snap.Errors, scope)
	}
	if slices.Contains(h.clock.Sleeps(), time.Hour) {
		t.Error("slept past the scan's deadline")
	}
	if got := len(snap.Versions); got != 3 {
		t.Errorf("versions = %d, want the other 3", got)
	}
}

func TestScanRecordsFailedScopesAndGoesOn(t *testing.T) {
	galleryB := "/subscriptions/" + subB + "/resourceGroups/rg2/providers/Microsoft.Compute/galleries/g2026"
	cases := []struct {
		name       string
		fault      armsim.Fault
		wantReason scanner.Reason
		wantCode   string
		wantLeft   int // versions still found
	}{
		{"403 on one subscription", armsim.Fault{Scope: "/subscriptions/" + subA, Status: 403, Code: "AuthorizationFailed",
			Message: "The client does not have authorization to perform action 'Microsoft.Compute/galleries/read'"},
			scanner.ReasonForbidden, "AuthorizationFailed", 1},
		{"5xx on a gallery", armsim.Fault{Scope: galleryB, Status: 503, Code: "ServiceUnavailable", Message: "try later"},
			scanner.ReasonServerError, "ServiceUnavailable", 3},
		{"404 on an image definition", armsim.Fault{Scope: galleryB + "/images/win", Status: 404, Code: "ResourceNotFound", Message: "gone"},
			scanner.ReasonNotFound, "ResourceNotFound", 3},
		{"malformed JSON", armsim.Fault{Scope: galleryB + "/images/win", BadJSON: true},
			scanner.ReasonBadResponse, "BadResponse", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, twoSubscriptions(), harnessOpts{})
			h.sim.Inject(tc.fault)
			snap := scan(t, h)
			if len(snap.Errors) != 1 {
				t.Fatalf("errors = %+v, want 1", snap.Errors)
			}
			e := snap.Errors[0]
			if !strings.EqualFold(e.Scope, tc.fault.Scope) || e.Reason != tc.wantReason || e.Code != tc.wantCode {
				t.Errorf("error = %+v, want scope %s reason %s code %s", e, tc.fault.Scope, tc.wantReason, tc.wantCode)
			}
			if tc.fault.Message != "" && e.Message != tc.fault.Message {
				t.Errorf("message = %q, want the service's %q", e.Message, tc.fault.Message)
			}
			if got := len(snap.Versions); got != tc.wantLeft {
				t.Errorf("versions = %d, want %d from the scopes that worked", got, tc.wantLeft)
			}
			if !snap.Partial() || snap.Failed() {
				t.Errorf("partial=%v failed=%v, want partial only", snap.Partial(), snap.Failed())
			}
		})
	}
}

func TestScanRetriesATransient5xx(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: "/subscriptions/" + subB, Status: 500, Code: "InternalServerError", Message: "blip", Times: 2})
	snap := scan(t, h)
	if len(snap.Errors) != 0 {
		t.Fatalf("errors = %+v: azcore's retry should have absorbed two 500s", snap.Errors)
	}
	versionByName(t, snap, "2.0.0")
}

func TestScanEmptyRecycleBin(t *testing.T) {
	estate := armsim.Estate{Subscriptions: []armsim.Subscription{{ID: subA, Galleries: []armsim.Gallery{
		{Name: "g", ResourceGroup: "rg", Location: "West US", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true},
			Images: []armsim.Image{{Name: "i", Versions: []string{"1.0.0"}}}}}}}}
	snap := scan(t, newHarness(t, estate, harnessOpts{}))
	if len(snap.Versions) != 0 || len(snap.Errors) != 0 || snap.Partial() || snap.Failed() {
		t.Fatalf("snapshot = %+v", snap)
	}
	if doc := snap.DocumentOf(snap.Versions, t0); doc.Versions == nil || doc.Errors == nil {
		t.Error("empty lists must render as [], not null")
	}
}

func TestScanListsSubscriptionsSkippingDisabledAndExcluded(t *testing.T) {
	estate := twoSubscriptions()
	estate.Subscriptions = append(estate.Subscriptions,
		armsim.Subscription{ID: "33333333-3333-3333-3333-333333333333", State: "Disabled"},
		armsim.Subscription{ID: "44444444-4444-4444-4444-444444444444"})
	h := newHarness(t, estate, harnessOpts{scanner: scanner.Options{Exclude: []string{strings.ToUpper(subB)}}})
	snap := scan(t, h)
	var got []string
	for _, s := range snap.Subscriptions {
		got = append(got, s.ID)
	}
	if want := []string{subA, "44444444-4444-4444-4444-444444444444"}; !slices.Equal(got, want) {
		t.Errorf("subscriptions = %v, want %v", got, want)
	}
}

func TestScanFailsWhenNoSubscriptionCanBeListed(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: "/subscriptions", Status: 401, Code: "InvalidAuthenticationToken", Message: "The access token is invalid."})
	snap, err := h.scanner.Scan(context.Background())
	if err != nil {
		t.Fatalf("a blind scan is a snapshot with its failure, not an error: %v", err)
	}
	if !snap.Failed() || snap.Complete() || len(snap.Versions) != 0 {
		t.Fatalf("failed=%v complete=%v versions=%d: a scan that read nothing must say so", snap.Failed(), snap.Complete(), len(snap.Versions))
	}
	want := scanner.ScopeError{Scope: "/", Code: "InvalidAuthenticationToken", Message: "The access token is invalid.", Reason: scanner.ReasonForbidden}
	if len(snap.Errors) != 1 || snap.Errors[0] != want {
		t.Fatalf("errors = %+v, want %+v", snap.Errors, want)
	}
	if !strings.Contains(snap.Errors[0].Advice(), "credential") {
		t.Errorf("advice %q should point at the credential", snap.Errors[0].Advice())
	}
}

func TestScanStaysInsideEachSubscriptionsReadBudget(t *testing.T) {
	// One subscription, 40 image definitions: 1 + 1 + 40 = 42 reads against a bucket of 10 that
	// refills at 2 a second: the last 32 reads must wait at least 16 s between them.
	img := make([]armsim.Image, 40)
	for i := range img {
		img[i] = armsim.Image{Name: "img" + strings.Repeat("x", i+1)}
	}
	estate := armsim.Estate{Subscriptions: []armsim.Subscription{{ID: subA, Galleries: []armsim.Gallery{
		{Name: "g", ResourceGroup: "rg", Location: "West US", Images: img}}}}}
	h := newHarness(t, estate, harnessOpts{
		pipeline: arm.Options{Budget: arm.Budget{Burst: 10, PerSecond: 2}},
		scanner:  scanner.Options{Subscriptions: []string{subA}},
	})
	snap := scan(t, h)
	if len(snap.Errors) != 0 {
		t.Fatal(snap.Errors)
	}
	var waited time.Duration
	for _, d := range h.clock.Sleeps() {
		waited += d
	}
	if want := 16 * time.Second; waited < want-time.Millisecond {
		t.Errorf("waited %v for the budget, want at least %v", waited, want)
	}
}

func TestScanStopsPromptlyWhenCancelled(t *testing.T) {
	arrived := make(chan struct{}, 1)
	h := newHarness(t, twoSubscriptions(), harnessOpts{sim: armsim.Options{
		Latency: time.Hour, // every request hangs until cancelled
		OnRequest: func(*http.Request) {
			select {
			case arrived <- struct{}{}:
			default:
			}
		},
	}, scanner: scanner.Options{Subscriptions: []string{subA, subB}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *scanner.Snapshot)
	go func() {
		snap, _ := h.scanner.Scan(ctx)
		done <- snap
	}()
	<-arrived
	cancel()
	snap := <-done
	if len(snap.Errors) == 0 {
		t.Fatal("a cancelled scan reported no failed scope")
	}
	for _, e := range snap.Errors {
		if e.Reason != scanner.ReasonTimeout {
			t.Errorf("error %+v, want reason timeout", e)
		}
	}
}

func TestScanParsesOddTimestampsThroughTheWire(t *testing.T) {
	estate := armsim.Estate{Subscriptions: []armsim.Subscription{{ID: subA, Galleries: []armsim.Gallery{
		{Name: "g", ResourceGroup: "rg", Location: "West US", Images: []armsim.Image{{Name: "i", SoftDeleted: []armsim.SoftDeleted{
			{Version: "zulu", DeletedAtText: "2026-11-20T12:00:00Z"},
			{Version: "offset", DeletedAtText: "2026-11-20T14:00:00+02:00"},
			{Version: "fraction", DeletedAtText: "2026-11-20T12:00:00.1234567+00:00"},
			{Version: "nozone", DeletedAtText: "2026-11-20T12:00:00"},
			{Version: "broken", DeletedAtText: "yesterday"},
		}}}}}}}}
	snap := scan(t, newHarness(t, estate, harnessOpts{}))
	want := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, name := range []string{"zulu", "offset", "nozone"} {
		if v := versionByName(t, snap, name); !v.SoftDeletedAt.Equal(want) || v.SoftDeletedAt.Location() != time.UTC {
			t.Errorf("%s: softDeletedAt = %v", name, v.SoftDeletedAt)
		}
	}
	if v := versionByName(t, snap, "fraction"); v.SoftDeletedAt.Sub(want) != 123456700*time.Nanosecond {
		t.Errorf("fraction: %v", v.SoftDeletedAt)
	}
	if len(snap.Errors) != 1 || snap.Errors[0].Reason != scanner.ReasonBadResponse || !strings.Contains(snap.Errors[0].Message, "broken") {
		t.Errorf("errors = %+v, want one bad_response naming the broken version", snap.Errors)
	}
}

// When ARM throttles a subscription's reads with a Retry-After past the scan's deadline, the
// subscription's other reads are not sent only to be throttled too, nor do they sleep past the
// deadline: they fail at once, as throttled.
func TestASubscriptionThrottledPastTheDeadlineFailsFast(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{sim: armsim.Options{Burst: 2, PerSecond: 0.0001}})
	h.clock.Set(time.Now()) // the deadline is on the wall clock
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	snap, err := h.scanner.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Errors) == 0 {
		t.Fatal("nothing was throttled")
	}
	for _, e := range snap.Errors {
		if e.Reason != scanner.ReasonThrottled {
			t.Errorf("%s: %s (%s), want throttled", e.Scope, e.Reason, e.Message)
		}
	}
	for _, d := range h.clock.Sleeps() {
		if d >= 10*time.Minute {
			t.Errorf("slept %v, past the scan's deadline", d)
		}
	}
	if sent := len(h.sim.Requests()); sent > 12 {
		t.Errorf("%d requests: the paused subscription's reads were still sent", sent)
	}
}
