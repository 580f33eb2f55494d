package restore

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/recovery"
	"github.com/purgewatch/purgewatch/scanner"
)

const sub = "11111111-1111-1111-1111-111111111111"

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func estate() armsim.Estate {
	return armsim.Estate{Subscriptions: []armsim.Subscription{{ID: sub, Galleries: []armsim.Gallery{
		{Name: "g", ResourceGroup: "rg", Location: "West Europe", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true},
			Images: []armsim.Image{{Name: "img", Versions: []string{"2.0.0"}, SoftDeleted: []armsim.SoftDeleted{
				{Version: "1.0.0", DeletedAt: t0.Add(-6 * 24 * time.Hour)},
			}}}},
	}}}}
}

type fixture struct {
	sim      *armsim.Server
	r        *Restorer
	progress *bytes.Buffer
}

func newFixture(t *testing.T, o armsim.Options) *fixture {
	t.Helper()
	sim := armsim.New(estate(), o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	fc := clock.NewFake(t0)
	pl, err := arm.New(arm.Options{Endpoint: srv.URL, Clock: fc, RetryDelay: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	return &fixture{sim: sim, progress: &progress, r: &Restorer{Pipeline: pl, Scanner: scanner.New(scanner.Options{Pipeline: pl, Clock: fc}),
		Clock: fc, Progress: &progress, PollEvery: time.Second, Endpoint: srv.URL}}
}

func ref(version string) scanner.VersionRef {
	return scanner.VersionRef{SubscriptionID: sub, ResourceGroup: "rg", Gallery: "g", Image: "img", Version: version}
}

func TestRecoverWithThePatchOfTheSpec(t *testing.T) {
	f := newFixture(t, armsim.Options{OperationPolls: 2})
	found, err := f.r.Check(t.Context(), ref("1.0.0"))
	if err != nil || found.InRecycleBin == nil || found.Gallery.Location != "westeurope" {
		t.Fatalf("Check = %+v, %v", found, err)
	}
	res, err := f.r.Recover(t.Context(), ref("1.0.0"), found.Gallery.Location, time.Minute)
	if err != nil || res.Method != MethodPatch || res.FellBack || !res.Done {
		t.Fatalf("Recover = %+v, %v", res, err)
	}
	writes := f.sim.Writes()
	if len(writes) != 1 || writes[0].Method != "PATCH" || writes[0].Body != recovery.RestoreBody {
		t.Fatalf("writes = %+v, want the one PATCH the printed command sends, %s", writes, recovery.RestoreBody)
	}
	if plan := f.r.Plan(ref("1.0.0"), "westeurope"); plan[0].Body != recovery.RestoreBody {
		t.Errorf("--dry-run shows %s, the printed command %s", plan[0].Body, recovery.RestoreBody)
	}
	if !strings.Contains(f.progress.String(), "operation inprogress") || !strings.Contains(f.progress.String(), "operation succeeded") {
		t.Errorf("progress:\n%s", f.progress)
	}
	after, err := f.r.Scanner.Find(t.Context(), ref("1.0.0"))
	if err != nil || after.InRecycleBin != nil || !after.Live {
		t.Errorf("after recovery: %+v, %v", after, err)
	}
}

func TestRecoverFallsBackToTheDocumentedPut(t *testing.T) {
	f := newFixture(t, armsim.Options{RestoreMethods: []string{http.MethodPut}})
	res, err := f.r.Recover(t.Context(), ref("1.0.0"), "westeurope", time.Minute)
	if err != nil || res.Method != MethodPut || !res.FellBack || !res.Done {
		t.Fatalf("Recover = %+v, %v", res, err)
	}
	writes := f.sim.Writes()
	if len(writes) != 2 || writes[0].Method != "PATCH" || writes[1].Method != "PUT" || !strings.Contains(writes[1].Body, `"location":"westeurope"`) {
		t.Fatalf("writes = %+v", writes)
	}
	if !strings.Contains(f.progress.String(), "the PATCH was refused (HTTP 400 InvalidParameter)") {
		t.Errorf("progress:\n%s", f.progress)
	}
}

func TestRecoverNamesTheMissingPermission(t *testing.T) {
	f := newFixture(t, armsim.Options{})
	f.sim.Inject(armsim.Fault{Scope: ref("1.0.0").ID(), Method: http.MethodPatch, Status: http.StatusForbidden, Code: "AuthorizationFailed",
		Message: "The client 'pw' with object id 'abc' does not have authorization to perform action 'Microsoft.Compute/galleries/images/versions/write' over scope '" + ref("1.0.0").ID() + "'"})
	_, err := f.r.Recover(t.Context(), ref("1.0.0"), "westeurope", time.Minute)
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Action != "Microsoft.Compute/galleries/images/versions/write" {
		t.Fatalf("err = %v", err)
	}
	for _, r := range f.sim.Requests() {
		if strings.HasPrefix(r, "PUT ") {
			t.Errorf("a 403 must not fall back to PUT: %s", r)
		}
	}
}

func TestCheckRefusesWhatIsNotInTheRecycleBin(t *testing.T) {
	f := newFixture(t, armsim.Options{})
	_, err := f.r.Check(t.Context(), ref("2.0.0"))
	var nr *ErrNotRecoverable
	if !errors.As(err, &nr) || !nr.Live || !strings.Contains(err.Error(), "the live version exists") {
		t.Errorf("live version: %v", err)
	}
	_, err = f.r.Check(t.Context(), ref("0.9.0"))
	if !errors.As(err, &nr) || nr.Live || !strings.Contains(err.Error(), "has been purged") {
		t.Errorf("purged version: %v", err)
	}
}

func TestRecoverStopsWaitingWhenWaitRunsOut(t *testing.T) {
	f := newFixture(t, armsim.Options{OperationPolls: 1000})
	res, err := f.r.Recover(t.Context(), ref("1.0.0"), "westeurope", 10*time.Second)
	if err != nil || res.Done {
		t.Fatalf("Recover = %+v, %v; want an operation still running", res, err)
	}
}

func TestPurgeSendsTheRecycleBinDelete(t *testing.T) {
	f := newFixture(t, armsim.Options{})
	if err := f.r.Purge(context.Background(), ref("1.0.0")); err != nil {
		t.Fatal(err)
	}
	writes := f.sim.Writes()
	if len(writes) != 1 || writes[0].Method != "DELETE" || writes[0].Path != PurgePath(ref("1.0.0")) {
		t.Fatalf("writes = %+v", writes)
	}
	requests := strings.Join(f.sim.Requests(), "\n")
	if !strings.Contains(requests, "DELETE "+PurgePath(ref("1.0.0"))+"?api-version="+PurgeAPIVersion) {
		t.Errorf("requests:\n%s", requests)
	}
	if _, err := f.r.Check(t.Context(), ref("1.0.0")); err == nil {
		t.Error("the version is still in the recycle bin after the purge")
	}
}

func TestPlanShowsBothRequestForms(t *testing.T) {
	f := newFixture(t, armsim.Options{})
	plan := f.r.Plan(ref("1.0.0"), "westeurope")
	if len(plan) != 2 || plan[0].Method != MethodPatch || plan[1].Method != MethodPut ||
		plan[0].Body != `{"properties":{"restore":true,"storageProfile":{}}}` ||
		plan[1].Body != `{"location":"westeurope","properties":{"restore":true,"storageProfile":{}}}` ||
		!strings.HasSuffix(plan[0].URL, ref("1.0.0").ID()+"?api-version=2026-03-03") {
		t.Errorf("plan = %+v", plan)
	}
}
