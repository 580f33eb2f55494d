package armsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/clock"
)

const sub = "11111111-1111-1111-1111-111111111111"

var t0 = time.Date(2024, 10, 17, 13, 1, 5, 0, time.UTC)

func estate() Estate {
	return Estate{Subscriptions: []Subscription{{ID: sub, Galleries: []Gallery{
		{Name: "old", ResourceGroup: "myResourceGroup", Location: "West US", SoftDelete: &SoftDeletePolicy{Enabled: true},
			Images: []Image{{Name: "img", SoftDeleted: []SoftDeleted{{Version: "1.0.0", DeletedAt: t0}}}}},
		{Name: "new", ResourceGroup: "myResourceGroup", Location: "West US", ServiceTimes: true,
			SoftDelete: &SoftDeletePolicy{Enabled: true, RetentionDays: Days(30), GraceDays: Days(7)},
			Images:     []Image{{Name: "img", SoftDeleted: []SoftDeleted{{Version: "1.0.0", DeletedAt: t0}}}}},
	}}}}
}

func get(t *testing.T, h http.Handler, path string) (*http.Response, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path+"?api-version=2026-03-03", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, rec.Body.String())
	}
	return rec.Result(), body
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// keys lists the dotted paths of every field in v, so two bodies can be compared by shape.
func keys(prefix string, v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			*out = append(*out, prefix+k)
			keys(prefix+k+".", c, out)
		}
	case []any:
		if len(x) > 0 {
			keys(prefix+"[].", x[0], out)
		}
	}
	slices.Sort(*out)
}

func sameShape(t *testing.T, what string, got, want any, ignore ...string) {
	t.Helper()
	var g, w []string
	keys("", got, &g)
	keys("", want, &w)
	g = slices.DeleteFunc(g, func(k string) bool { return slices.Contains(ignore, k) })
	w = slices.DeleteFunc(w, func(k string) bool { return slices.Contains(ignore, k) })
	if !slices.Equal(g, w) {
		t.Errorf("%s: simulator fields\n  %v\nspec example fields\n  %v", what, g, w)
	}
}

// TestRecycleBinShapedLikeTheSpec compares the simulator's bodies with the REST specification's
// examples field by field, for both api-version shapes.
func TestRecycleBinShapedLikeTheSpec(t *testing.T) {
	s := New(estate(), Options{})
	base := "/subscriptions/" + sub + "/resourceGroups/myResourceGroup/providers/Microsoft.Compute/galleries/"
	_, old := get(t, s, base+"old/softDeletedArtifactTypes/Images/artifacts/img/versions")
	sameShape(t, "2024-03-03 list", old, fixture(t, "softdeleted-list-2024-03-03.json"), "nextLink")
	_, nw := get(t, s, base+"new/softdeletedartifacttypes/images/artifacts/img/versions")
	sameShape(t, "2026-03-03 list", nw, fixture(t, "softdeleted-list-2026-03-03.rebuilt.json"), "nextLink")

	item := old["value"].([]any)[0].(map[string]any)["properties"].(map[string]any)
	if item["softDeletedTime"] != "2024-10-17T13:01:05+00:00" {
		t.Errorf("softDeletedTime = %v, want the service's +00:00 form", item["softDeletedTime"])
	}
	props := nw["value"].([]any)[0].(map[string]any)["properties"].(map[string]any)
	if props["consumptionEndTime"] != "2024-11-16T13:01:05Z" || props["hardDeletionTargetTime"] != "2024-11-23T13:01:05Z" {
		t.Errorf("2026 times = %v, %v", props["consumptionEndTime"], props["hardDeletionTargetTime"])
	}

	_, gal := get(t, s, base+"new")
	sameShape(t, "gallery", gal, fixture(t, "gallery-soft-delete-enabled-2026-03-03.rebuilt.json"), "type", "properties.description")
}

func TestPagingLinksBackToTheServer(t *testing.T) {
	e := estate()
	for i := range 5 {
		e.Subscriptions[0].Galleries[0].Images[0].SoftDeleted = append(e.Subscriptions[0].Galleries[0].Images[0].SoftDeleted,
			SoftDeleted{Version: "2.0." + string(rune('0'+i)), DeletedAt: t0})
	}
	s := New(e, Options{PageSize: 4})
	path := "/subscriptions/" + sub + "/resourceGroups/myResourceGroup/providers/Microsoft.Compute/galleries/old/softdeletedartifacttypes/Images/artifacts/img/versions"
	_, page := get(t, s, path)
	next, _ := page["nextLink"].(string)
	if !strings.HasPrefix(next, "http://example.com"+path+"?") || !strings.Contains(next, "skiptoken=4") {
		t.Fatalf("nextLink = %q", next)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, next, nil))
	var last map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &last)
	if n := len(last["value"].([]any)); n != 2 || last["nextLink"] != nil {
		t.Errorf("last page: %d items, nextLink %v", n, last["nextLink"])
	}
}

func TestThrottlesEachSubscriptionLikeARM(t *testing.T) {
	fc := clock.NewFake(t0)
	s := New(estate(), Options{Burst: 2, PerSecond: 0.5, Clock: fc})
	path := "/subscriptions/" + sub + "/providers/Microsoft.Compute/galleries"
	for i, want := range []string{"1", "0"} {
		resp, _ := get(t, s, path)
		if resp.StatusCode != 200 || resp.Header.Get("x-ms-ratelimit-remaining-subscription-reads") != want {
			t.Fatalf("request %d: %d, remaining %q", i, resp.StatusCode, resp.Header.Get("x-ms-ratelimit-remaining-subscription-reads"))
		}
	}
	resp, body := get(t, s, path)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("third request: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code := body["error"].(map[string]any)["code"]; code != "SubscriptionRequestsThrottled" {
		t.Errorf("code = %v", code)
	}
	fc.Advance(2 * time.Second)
	if resp, _ := get(t, s, path); resp.StatusCode != 200 {
		t.Errorf("after Retry-After: %d", resp.StatusCode)
	}
}

func TestFaultsHealAfterTimes(t *testing.T) {
	s := New(estate(), Options{})
	s.Inject(Fault{Scope: "/subscriptions/" + sub, Status: 503, Code: "ServiceUnavailable", Message: "x", Times: 1})
	path := "/subscriptions/" + sub + "/providers/Microsoft.Compute/galleries"
	if resp, _ := get(t, s, path); resp.StatusCode != 503 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	if resp, _ := get(t, s, path); resp.StatusCode != 200 {
		t.Fatalf("second: %d", resp.StatusCode)
	}
}

func TestDemoEstateShowsEveryCase(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	e := DemoEstate(now)
	var disabled, softDeleteOff, serviceTimes, grace, overdue, withinDay, withinWeek int
	for _, s := range e.Subscriptions {
		if s.State == "Disabled" {
			disabled++
		}
		for _, g := range s.Galleries {
			if g.SoftDelete == nil || !g.SoftDelete.Enabled {
				softDeleteOff++
			}
			if g.ServiceTimes {
				serviceTimes++
			}
			r, gr := g.retention()
			if gr > 0 {
				grace++
			}
			for _, img := range g.Images {
				for _, v := range img.SoftDeleted {
					left := v.DeletedAt.Add(time.Duration(r+gr) * 24 * time.Hour).Sub(now)
					switch {
					case left < 0:
						overdue++
					case left < 24*time.Hour:
						withinDay++
					case left < 7*24*time.Hour:
						withinWeek++
					}
				}
			}
		}
	}
	if len(e.Subscriptions) < 3 || disabled != 1 || softDeleteOff == 0 || serviceTimes == 0 || grace == 0 || overdue == 0 || withinDay < 2 || withinWeek == 0 {
		t.Errorf("demo estate lacks a case: subs=%d disabled=%d off=%d serviceTimes=%d grace=%d overdue=%d day=%d week=%d",
			len(e.Subscriptions), disabled, softDeleteOff, serviceTimes, grace, overdue, withinDay, withinWeek)
	}
}

func TestLoadEstateFromYAML(t *testing.T) {
	path := t.TempDir() + "/estate.yaml"
	data := `subscriptions:
  - id: ` + sub + `
    galleries:
      - name: g
        resourceGroup: rg
        location: West US
        softDelete: {enabled: true, retentionDays: 30, graceDays: 7}
        serviceTimes: true
        images:
          - name: img
            softDeleted:
              - {version: 1.0.0, deletedAt: 2024-10-17T13:01:05Z}
`
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := LoadEstate(path)
	if err != nil {
		t.Fatal(err)
	}
	g := e.Subscriptions[0].Galleries[0]
	if r, gr := g.retention(); r != 30 || gr != 7 || !g.ServiceTimes || !g.Images[0].SoftDeleted[0].DeletedAt.Equal(t0) {
		t.Errorf("estate = %+v", g)
	}
	if _, err := LoadEstate(t.TempDir() + "/none.yaml"); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// Churn keeps the bins' size and moves the oldest version of each image definition in turn.
func TestChurnMovesTheOldestVersionOfEachImageInTurn(t *testing.T) {
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	s := New(Synthetic(now, 1, 1, 2, 2), Options{})
	if moved := s.Churn(3, now.Add(time.Hour)); moved != 2 {
		t.Fatalf("moved %d of 2 image definitions' versions, want 2 (one each per round)", moved)
	}
	s.Churn(1, now.Add(2*time.Hour))
	imgs := s.estate.Subscriptions[0].Galleries[0].Images
	var got [][]string
	for _, img := range imgs {
		var names []string
		for _, v := range img.SoftDeleted {
			names = append(names, v.Version)
		}
		got = append(got, names)
	}
	want := [][]string{{"9.1.0", "9.2.2"}, {"1.0.1", "9.1.1"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bins after churning 3: %v, want %v", got, want)
	}
}

// TestActivityLogShapedLikeTheSpec: the Activity Log's events carry only members the REST
// specification's example has, $select keeps the ones named, and a query the service would refuse
// (no start time, one past the 90 days it keeps, a term it does not allow) is refused.
func TestActivityLogShapedLikeTheSpec(t *testing.T) {
	e := estate()
	e.Subscriptions[0].Galleries[0].Images[0].SoftDeleted[0].DeletedBy = &Caller{Name: "alice@contoso.com", ClientIP: "203.0.113.7"}
	s := New(e, Options{Clock: clock.NewFake(t0.Add(time.Hour))})
	path := "/subscriptions/" + sub + "/providers/Microsoft.Insights/eventtypes/management/values"
	window := "eventTimestamp ge '" + t0.Add(-time.Hour).Format(time.RFC3339) + "' and eventTimestamp le '" + t0.Add(time.Hour).Format(time.RFC3339) + "'"
	query := func(filter, sel string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		q := "?api-version=2015-04-01&%24filter=" + strings.ReplaceAll(filter, " ", "%20")
		if sel != "" {
			q += "&%24select=" + sel
		}
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path+q, nil))
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	var spec []string
	keys("", fixture(t, "activitylog-2015-04-01.json")["value"].([]any)[0], &spec)
	code, body := query(window+" and resourceProvider eq 'Microsoft.Compute'", "")
	events, _ := body["value"].([]any)
	if code != http.StatusOK || len(events) != 2 {
		t.Fatalf("%d, %d events, want the delete's Started and Succeeded: %v", code, len(events), body)
	}
	var got []string
	keys("", events[0], &got)
	for _, k := range got {
		if !slices.Contains(spec, k) && !strings.HasPrefix(k, "claims.") {
			t.Errorf("member %s is not in the specification's example", k)
		}
	}
	_, body = query(window, "caller,resourceId")
	if first := body["value"].([]any)[0].(map[string]any); len(first) != 2 || first["caller"] != "alice@contoso.com" {
		t.Errorf("$select=caller,resourceId gave %v", first)
	}
	if _, body = query(window+" and resourceProvider eq 'Microsoft.Storage'", ""); len(body["value"].([]any)) != 0 {
		t.Errorf("another provider's events: %v", body["value"])
	}
	for _, bad := range []string{"resourceProvider eq 'Microsoft.Compute'", "eventTimestamp ge '" + t0.Add(-100*24*time.Hour).Format(time.RFC3339) + "'",
		window + " and caller eq 'alice'"} {
		if code, _ := query(bad, ""); code != http.StatusBadRequest {
			t.Errorf("$filter=%s: %d, want 400", bad, code)
		}
	}
}
