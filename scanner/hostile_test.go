package scanner_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/scanner"
)

// The hostile-service tests: each broken answer must become one scoped error, with the rest of
// the estate scanned and priced, and never read as an empty recycle bin.

const ubuntuImage = "/subscriptions/" + subA + "/resourceGroups/rg1/providers/Microsoft.Compute/galleries/g2024/images/ubuntu"

// onlyScopeError asserts that snap failed at exactly scope, for reason, and read everything else.
func onlyScopeError(t *testing.T, snap *scanner.Snapshot, scope string, reason scanner.Reason) scanner.ScopeError {
	t.Helper()
	if len(snap.Errors) != 1 || snap.Errors[0].Scope != scope || snap.Errors[0].Reason != reason {
		t.Fatalf("errors = %+v, want one %s error at %s", snap.Errors, reason, scope)
	}
	for _, name := range []string{"0.9.0", "2.0.0"} { // the other galleries, both subscriptions
		versionByName(t, snap, name)
	}
	if snap.Failed() || !snap.Partial() {
		t.Errorf("failed=%v partial=%v: one failed scope is a partial scan", snap.Failed(), snap.Partial())
	}
	if _, err := json.Marshal(snap.DocumentOf(snap.Versions, t0)); err != nil {
		t.Errorf("the document must still encode: %v", err)
	}
	return snap.Errors[0]
}

func TestAPageThatIsNotAListIsABadResponseNotAnEmptyBin(t *testing.T) {
	for name, body := range map[string]string{"empty body": "", "null": "null", "no value array": `{"nextLink": null}`,
		"value null": `{"value": null}`} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, twoSubscriptions(), harnessOpts{})
			prev := scan(t, h)
			h.sim.Inject(armsim.Fault{Scope: ubuntuImage, Raw: true, Body: body})
			next := scan(t, h)
			e := onlyScopeError(t, next, ubuntuImage, scanner.ReasonBadResponse)
			if !strings.Contains(e.Message, `"value" array`) {
				t.Errorf("message %q should say what was wrong", e.Message)
			}
			// The image's versions are not known to be gone: the merged view keeps them.
			merged := scanner.Merge(prev, next)
			for _, v := range []string{"1.0.0", "1.0.1"} {
				versionByName(t, merged, v)
			}
		})
	}
}

func TestAnEmptyValueArrayIsAnEmptyBin(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: ubuntuImage, Raw: true, Body: `{"value": []}`})
	snap := scan(t, h)
	if len(snap.Errors) != 0 || len(snap.Versions) != 2 {
		t.Fatalf("errors %+v, %d versions: an empty list is a good answer", snap.Errors, len(snap.Versions))
	}
}

func TestTimesNoJSONCanCarryFailOneScope(t *testing.T) {
	estate := twoSubscriptions()
	img := &estate.Subscriptions[0].Galleries[0].Images[0]
	img.SoftDeleted = append(img.SoftDeleted, armsim.SoftDeleted{Version: "9.9.9", DeletedAt: time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC)})
	h := newHarness(t, estate, harnessOpts{})
	snap := scan(t, h)
	e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonBadResponse)
	if !strings.Contains(e.Message, "9.9.9") || !strings.Contains(e.Message, "9999") {
		t.Errorf("message %q should name the version and the year", e.Message)
	}
	// The bin's other entries are still priced.
	versionByName(t, snap, "1.0.0")
}

func TestAnAbsurdRetentionFailsItsGalleryOnly(t *testing.T) {
	estate := twoSubscriptions()
	estate.Subscriptions[1].Galleries = append(estate.Subscriptions[1].Galleries, armsim.Gallery{Name: "forever", ResourceGroup: "rg2",
		Location: "East US 2", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true, RetentionDays: days(2147483647)}})
	h := newHarness(t, estate, harnessOpts{})
	snap := scan(t, h)
	e := onlyScopeError(t, snap, "/subscriptions/"+subB+"/resourceGroups/rg2/providers/Microsoft.Compute/galleries/forever", scanner.ReasonBadResponse)
	if !strings.Contains(e.Message, "retentionPeriodInDays") {
		t.Errorf("message %q should name the field", e.Message)
	}
}

func TestAnEntryListedTwiceIsCountedOnce(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: "/subscriptions/" + subA, Duplicate: true})
	snap := scan(t, h)
	if len(snap.Errors) != 0 || len(snap.Versions) != 4 || len(snap.Galleries) != 3 {
		t.Fatalf("%d versions, %d galleries, errors %+v; want 4 and 3, each once", len(snap.Versions), len(snap.Galleries), snap.Errors)
	}
}

func TestAnEntryClaimingAnotherResourceIsRefused(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: ubuntuImage, Raw: true, Body: `{"value": [{"name": "1.0.0", "properties": {
		"softDeletedTime": "2026-11-20T00:00:00Z",
		"resourceArmId": "/subscriptions/` + subB + `/resourceGroups/prod/providers/Microsoft.Compute/galleries/prod/images/db/versions/1.0.0"}}]}`})
	snap := scan(t, h)
	e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonBadResponse)
	if !strings.Contains(e.Message, "resourceArmId") {
		t.Errorf("message %q should name the field", e.Message)
	}
}

func TestANextLinkThatLoopsEndsTheListing(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: ubuntuImage, LoopLink: true})
	snap := scan(t, h)
	e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonBadResponse)
	if !strings.Contains(e.Message, "already read") {
		t.Errorf("message %q", e.Message)
	}
	binReads := 0
	for _, r := range h.sim.Requests() {
		if strings.Contains(r, "/artifacts/ubuntu/versions") {
			binReads++
		}
	}
	if binReads != 2 { // the first page, and the link back to it
		t.Errorf("%d reads of the looping listing, want 2", binReads)
	}
}

func TestAListingIsBoundedInPages(t *testing.T) {
	estate := twoSubscriptions()
	img := &estate.Subscriptions[0].Galleries[0].Images[0]
	for i := range 20 {
		img.SoftDeleted = append(img.SoftDeleted, armsim.SoftDeleted{Version: "3.0." + string(rune('a'+i)), DeletedAt: t0.Add(-time.Hour)})
	}
	h := newHarness(t, estate, harnessOpts{sim: armsim.Options{PageSize: 2}, scanner: scanner.Options{MaxPages: 5}})
	snap := scan(t, h)
	e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonBadResponse)
	if !strings.Contains(e.Message, "past 5 pages") {
		t.Errorf("message %q", e.Message)
	}
}

// TestANextLinkToAnotherHostCarriesNoToken serves ARM over TLS with a real bearer token, and a
// nextLink that points at a second server: that server must hear nothing.
func TestANextLinkToAnotherHostCarriesNoToken(t *testing.T) {
	var stolen atomic.Int64
	thief := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		t.Errorf("the foreign host got %s %s with Authorization %q", r.Method, r.URL, r.Header.Get("Authorization"))
	}))
	defer thief.Close()
	fc := clock.NewFake(t0)
	sim := armsim.New(twoSubscriptions(), armsim.Options{Clock: fc})
	sim.Inject(armsim.Fault{Scope: ubuntuImage, ForeignLink: thief.URL})
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	// One client that trusts both test certificates, so only purgewatch's own guard stands between.
	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(thief.Certificate())
	pl, err := arm.New(arm.Options{Endpoint: srv.URL, Clock: fc, Transport: client, RetryDelay: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	s := scanner.New(scanner.Options{Pipeline: pl, Credential: &azfake.TokenCredential{}, Clock: fc,
		Subscriptions: []string{subA, subB}})
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonBadResponse)
	if !strings.Contains(e.Message, "other than the ARM endpoint") {
		t.Errorf("message %q", e.Message)
	}
	if stolen.Load() != 0 {
		t.Errorf("%d requests reached the foreign host", stolen.Load())
	}
}

func TestAStalledRequestFailsItsScopeNotTheScan(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{pipeline: arm.Options{TryTimeout: 50 * time.Millisecond, MaxRetries: -1}})
	h.sim.Inject(armsim.Fault{Scope: ubuntuImage, Stall: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // the scan's own deadline
	defer cancel()
	snap, err := h.scanner.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonTimeout)
	if !strings.Contains(e.Message, "azure.requestTimeout") {
		t.Errorf("message %q should blame the request's timeout, not the scan's deadline", e.Message)
	}
	if ctx.Err() != nil {
		t.Error("the stalled request used up the scan's deadline")
	}
}

func TestBodiesAreBounded(t *testing.T) {
	t.Run("error body", func(t *testing.T) {
		h := newHarness(t, twoSubscriptions(), harnessOpts{pipeline: arm.Options{MaxRetries: -1}})
		h.sim.Inject(armsim.Fault{Scope: ubuntuImage, Status: 500, Code: "InternalError", Message: strings.Repeat("x", 1<<20)})
		snap := scan(t, h)
		e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonServerError)
		if len(e.Message) > arm.MaxErrorBody {
			t.Errorf("a %d-byte message was kept from a 1 MiB error body", len(e.Message))
		}
	})
	t.Run("success body", func(t *testing.T) {
		estate := twoSubscriptions()
		img := &estate.Subscriptions[0].Galleries[0].Images[0]
		for i := range 30 {
			img.SoftDeleted = append(img.SoftDeleted, armsim.SoftDeleted{Version: "4.0." + string(rune('a'+i)), DeletedAt: t0.Add(-time.Hour)})
		}
		// 4 KiB holds every listing of the estate but the 32-entry bin.
		h := newHarness(t, estate, harnessOpts{pipeline: arm.Options{MaxBody: 4 << 10, MaxRetries: -1}})
		snap := scan(t, h)
		e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonBadResponse)
		if !strings.Contains(e.Message, "larger than the limit") {
			t.Errorf("message %q", e.Message)
		}
	})
}

// TestAPageOfBrokenEntriesIsOneScopeError: a bin listing of 5,000 entries without a name fails
// its image definition once, saying how many were refused, not with 5,000 errors and log lines.
func TestAPageOfBrokenEntriesIsOneScopeError(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: ubuntuImage, Raw: true, Body: `{"value": [` + strings.Repeat(`{},`, 4999) + `{}]}`})
	e := onlyScopeError(t, scan(t, h), ubuntuImage, scanner.ReasonBadResponse)
	if !strings.Contains(e.Message, "without a name") || !strings.Contains(e.Message, "4999 more entries refused") {
		t.Errorf("message %q should give the first refusal and the count of the rest", e.Message)
	}
}

func TestOneFailedScopeInASingleSubscriptionIsPartial(t *testing.T) {
	estate := twoSubscriptions()
	estate.Subscriptions = estate.Subscriptions[:1]
	h := newHarness(t, estate, harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: ubuntuImage, Status: 403, Code: "AuthorizationFailed", Message: "no"})
	snap := scan(t, h)
	if snap.Failed() || !snap.Partial() || snap.Complete() {
		t.Fatalf("failed=%v partial=%v: a subscription whose galleries were read is partial", snap.Failed(), snap.Partial())
	}
	h.sim.Inject(armsim.Fault{Scope: "/subscriptions/" + subA, Status: 403, Code: "AuthorizationFailed", Message: "no"})
	if snap := scan(t, h); !snap.Failed() {
		t.Fatalf("a scan that read no gallery list read nothing: failed=%v", snap.Failed())
	}
}

func TestABrokenCredentialIsOneRootError(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	pl, err := arm.New(arm.Options{Endpoint: "https://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	cred := &azfake.TokenCredential{}
	cred.SetError(errTokenRefused)
	s := scanner.New(scanner.Options{Pipeline: pl, Credential: cred, Clock: h.clock, Subscriptions: []string{subA, subB}})
	snap, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Errors) != 1 || snap.Errors[0].Scope != "/" || snap.Errors[0].Code != "CredentialUnavailable" ||
		!strings.Contains(snap.Errors[0].Message, "AADSTS700016") {
		t.Fatalf("errors = %+v, want one root-scope credential error with the service's text", snap.Errors)
	}
	if !snap.Failed() || len(snap.Subscriptions) != 2 || snap.Subscriptions[0].Complete {
		t.Errorf("failed=%v subscriptions=%+v: both configured subscriptions were not read", snap.Failed(), snap.Subscriptions)
	}
}

type tokenError string

func (e tokenError) Error() string { return string(e) }

const errTokenRefused = tokenError("ClientSecretCredential: AADSTS700016: Application with identifier 'x' was not found in the directory")

// A listing answered with a redirect to another host is not followed: the other host's answer is
// never taken as the bin, and the scope is a bad response that says so.
func TestARedirectIsNotFollowed(t *testing.T) {
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		_, _ = w.Write([]byte(`{"value": []}`))
	}))
	t.Cleanup(elsewhere.Close)
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	h.sim.Inject(armsim.Fault{Scope: ubuntuImage, Redirect: elsewhere.URL})
	snap := scan(t, h)
	e := onlyScopeError(t, snap, ubuntuImage, scanner.ReasonBadResponse)
	if e.Code != "Redirected" || !strings.Contains(e.Message, "307") {
		t.Errorf("scope error %+v, want Redirected naming the 307", e)
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("%d requests followed the redirect", n)
	}
}

// A softDeletedTime in the future (a clock that is off) is kept, priced from what ARM says, and
// counted, so that the skew is seen rather than the version hidden.
func TestADeletionInTheFutureIsKeptAndCounted(t *testing.T) {
	estate := twoSubscriptions()
	img := &estate.Subscriptions[0].Galleries[0].Images[0]
	img.SoftDeleted = append(img.SoftDeleted, armsim.SoftDeleted{Version: "3.0.0", DeletedAt: t0.Add(2 * time.Hour)})
	h := newHarness(t, estate, harnessOpts{})
	snap := scan(t, h)
	if snap.Stats.DeletedInFuture != 1 || len(snap.Errors) != 0 {
		t.Errorf("%d deletions in the future, errors %+v; want 1 and none", snap.Stats.DeletedInFuture, snap.Errors)
	}
	if v := versionByName(t, snap, "3.0.0"); !v.PurgeAt.After(v.SoftDeletedAt) {
		t.Errorf("the version is not priced from its stated time: %+v", v)
	}
}
