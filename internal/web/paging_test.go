package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/scanner"
)

// estate is n versions over two subscriptions and two galleries, purged an hour apart: the first
// four are overdue (the fourth purged right now), the next 24 critical.
func estate(n int) *status.State {
	var vs []scanner.Version
	for i := range n {
		sub, gal := "11111111-1111-1111-1111-111111111111", "alpha"
		if i%2 == 1 {
			sub, gal = "22222222-2222-2222-2222-222222222222", "beta"
		}
		purge := now.Add(time.Duration(i-3) * time.Hour) // the first three are overdue
		vs = append(vs, scanner.Version{Definition: &scanner.Definition{SubscriptionID: sub, ResourceGroup: "rg", Gallery: gal, Image: "i"},
			Version: fmt.Sprintf("1.0.%d", i), ConsumptionEndsAt: purge, PurgeAt: purge})
	}
	return &status.State{Ready: true, Snapshot: &scanner.Snapshot{ScannedAt: now, Versions: vs},
		History: []status.ScanRecord{{Started: now, Result: status.ResultSuccess}}}
}

var rowRE = regexp.MustCompile(`<tr class="[a-z]+" data-id="([^"]+)"`)

func TestThePageShowsTheMostUrgentRowsAndLinksToTheRest(t *testing.T) {
	srv := serve(t, estate(450))
	_, body := get(t, srv.URL+"/")
	rows := rowRE.FindAllStringSubmatch(body, -1)
	if len(rows) != 100 || !strings.HasSuffix(rows[0][1], "/versions/1.0.0") {
		t.Fatalf("first page: %d rows, first %v", len(rows), rows[:min(1, len(rows))])
	}
	for _, want := range []string{"Showing 1–100 of 450, under their image definitions", `rel="next" href="?from=100#versions"`, `>4 overdue</a>`, `>24 critical</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, `rel="prev"`) || strings.Contains(body, "<script") {
		t.Error("the first page has no previous page, and no page has a script")
	}
	_, last := get(t, srv.URL+"/?from=400")
	if rows := rowRE.FindAllStringSubmatch(last, -1); len(rows) != 50 || !strings.Contains(last, "Showing 401–450 of 450") || strings.Contains(last, `rel="next"`) {
		t.Errorf("last page: %d rows", len(rows))
	}

	_, beta := get(t, srv.URL+"/?gallery=BETA&state=usable&limit=10")
	rows = rowRE.FindAllStringSubmatch(beta, -1)
	if len(rows) != 10 || !strings.Contains(beta, "of 223 matching") || !strings.Contains(beta, `href="?from=10&amp;gallery=BETA&amp;limit=10&amp;state=usable#versions"`) {
		t.Errorf("filtered: %d rows\n%s", len(rows), beta[strings.Index(beta, `id="paging"`):][:300])
	}
	for _, r := range rows {
		if !strings.Contains(r[1], "/galleries/beta/") {
			t.Errorf("gallery=beta shows %s", r[1])
		}
	}
	if code, body := get(t, srv.URL+"/?state=maybe"); code != http.StatusBadRequest || !strings.Contains(body, "state=\"maybe\": takes one of usable, unusable, overdue") {
		t.Errorf("a bad filter: %d %s", code, body)
	}
}

func TestTheAPIPagesAndTheWholeListIsAWalkAway(t *testing.T) {
	st := estate(2500)
	srv := serve(t, st)
	var ids []string
	url := srv.URL + "/api/v1/versions?limit=1000"
	for pages := 0; url != ""; pages++ {
		if pages > 3 {
			t.Fatal("more pages than the list holds")
		}
		code, body := get(t, url)
		var p struct {
			Versions []struct{ ID string }
			Total    int
			Continue string
		}
		if err := json.Unmarshal([]byte(body), &p); code != 200 || err != nil || p.Total != 2500 {
			t.Fatalf("%s: %d %v total %d", url, code, err, p.Total)
		}
		for _, v := range p.Versions {
			ids = append(ids, v.ID)
		}
		url = ""
		if p.Continue != "" {
			url = srv.URL + "/api/v1/versions?limit=1000&continue=" + p.Continue
		}
	}
	if len(ids) != 2500 {
		t.Fatalf("walked %d versions, want 2500", len(ids))
	}
	for i, v := range st.Snapshot.Versions {
		if ids[i] != v.ID() {
			t.Fatalf("version %d: %s, want %s (the snapshot's order, none repeated or skipped)", i, ids[i], v.ID())
		}
	}
	_, body := get(t, srv.URL+"/api/v1/versions?subscription=22222222-2222-2222-2222-222222222222&urgency=overdue")
	if !strings.Contains(body, `"total": 2`) {
		t.Errorf("filtered API: %s", body[:min(300, len(body))])
	}
	for _, bad := range []string{"limit=0", "limit=x", "continue=bm90LWEtdG9rZW4", "deadline=soon"} {
		if code, _ := get(t, srv.URL+"/api/v1/versions?"+bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
}

// TestALongListIsGroupedByImageDefinition: past groupAbove versions the rows are under their
// image definitions, the definitions by their soonest deadline, each one's rows soonest first;
// ?group=none gives the one list, ?group=image groups a short one too.
func TestALongListIsGroupedByImageDefinition(t *testing.T) {
	srv := serve(t, estate(150))
	_, body := get(t, srv.URL+"/?limit=1000")
	alpha, beta := strings.Index(body, `<tr class="group"><th colspan="7">alpha / i</th></tr>`), strings.Index(body, `<tr class="group"><th colspan="7">beta / i</th></tr>`)
	if alpha < 0 || beta < alpha || strings.Contains(body[beta:], "/galleries/alpha/") {
		t.Fatalf("not grouped alpha, then beta: %d %d", alpha, beta)
	}
	rows := rowRE.FindAllStringSubmatch(body[alpha:beta], -1)
	if len(rows) != 75 || !strings.HasSuffix(rows[0][1], "/1.0.0") || !strings.HasSuffix(rows[1][1], "/1.0.2") {
		t.Errorf("alpha's rows: %d, from %v", len(rows), rows[:2])
	}
	if _, flat := get(t, srv.URL+"/?group=none&limit=1000"); strings.Contains(flat, `<tr class="group">`) {
		t.Error("?group=none still groups")
	}
	if _, short := get(t, serve(t, estate(4)).URL+"/?group=image"); !strings.Contains(short, `<tr class="group">`) {
		t.Error("?group=image does not group a short list")
	}
	if code, _ := get(t, srv.URL+"/?group=gallery"); code != 400 {
		t.Errorf("?group=gallery: %d, want 400", code)
	}
}

// TestTheFindingsArePagedMostSevereFirst: an audit finding per image definition of a large
// estate is not one page of megabytes: the page lists the 50 most severe and says how many more,
// and ?findings=all lists every one.
func TestTheFindingsArePagedMostSevereFirst(t *testing.T) {
	st := estate(3)
	var findings []audit.Finding
	for i := range 500 {
		findings = append(findings, audit.Finding{Severity: audit.Info, Check: audit.CheckUndeletableImage, ID: fmt.Sprintf("/x/images/i%d", i)})
	}
	findings = append(findings, audit.Finding{Severity: audit.Critical, Check: audit.CheckPinnedVersion, ID: "/x/images/pinned"})
	st.Audit = &audit.Report{Findings: findings}
	srv := serve(t, st)
	_, body := get(t, srv.URL+"/")
	if n := strings.Count(body, `<tr class="finding `); n != 50 || !strings.Contains(body, `<tr class="finding critical">`) || !strings.Contains(body, "and 451 more") {
		t.Errorf("%d findings listed (critical among them: %v)", n, strings.Contains(body, `<tr class="finding critical">`))
	}
	if _, all := get(t, srv.URL+"/?findings=all"); strings.Count(all, `<tr class="finding `) != 501 {
		t.Error("?findings=all does not list every finding")
	}
}

// TestAReadyStateWithoutHistoryRenders: a state that is ready but holds no scan record (a
// restored or hand-made one) renders the page rather than failing its template.
func TestAReadyStateWithoutHistoryRenders(t *testing.T) {
	st := estate(2)
	st.History = nil
	code, body := get(t, serve(t, st).URL+"/")
	if code != 200 || !strings.Contains(body, "2 soft-deleted versions") || !strings.Contains(body, "</html>") {
		t.Errorf("%d, page cut short:\n%.300s", code, body)
	}
}

// TestTheFirstPageStaysSmallAtAHundredThousandVersions: with the audit on (a finding per image
// definition) and 100,000 versions, the first page is under 300 KB: a page of rows, the worst
// findings, and the counts.
func TestTheFirstPageStaysSmallAtAHundredThousandVersions(t *testing.T) {
	st := estate(100_000) // half a second: no reason to leave it out of -short
	var findings []audit.Finding
	for i := range 10_000 {
		findings = append(findings, audit.Finding{Severity: audit.Info, Check: audit.CheckUndeletableImage, ID: fmt.Sprintf("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i%d", i),
			Message: "holds soft-deleted versions", Action: "wait for the purge, or purge them"})
	}
	st.Audit = &audit.Report{Findings: findings}
	_, body := get(t, serve(t, st).URL+"/")
	if n := len(body); n > 300<<10 {
		t.Errorf("the first page is %d KB, want under 300 KB", n>>10)
	}
}
