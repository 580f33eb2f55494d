package scanner_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/purgewatch/purgewatch/internal/armsim"
)

func TestLiveVersionsAsksOnceEachAndConcludesOnlyFromAnAnswer(t *testing.T) {
	estate := twoSubscriptions()
	estate.Subscriptions[0].Galleries[0].Images[0].Versions = []string{"2.0.0"} // a live version
	var gets atomic.Int32
	h := newHarness(t, estate, harnessOpts{sim: armsim.Options{OnRequest: func(r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/versions/") {
			gets.Add(1)
		}
	}}})
	base := "/subscriptions/" + subA + "/resourceGroups/rg1/providers/Microsoft.Compute/galleries/g2024/images/ubuntu/versions/"
	broken := "/subscriptions/" + subB + "/resourceGroups/rg2/providers/Microsoft.Compute/galleries/g2026/images/win/versions/2.0.0"
	h.sim.Inject(armsim.Fault{Scope: broken, Status: http.StatusBadRequest, Code: "Nope", Message: "no"})
	ids := []string{base + "2.0.0", base + "1.0.0", broken, "not an id"}
	got := h.scanner.LiveVersions(t.Context(), ids)
	if live, ok := got[strings.ToLower(base+"2.0.0")]; !ok || !live {
		t.Errorf("a live version: %v, %v", live, ok)
	}
	if live, ok := got[strings.ToLower(base+"1.0.0")]; !ok || live {
		t.Errorf("a version in the bin only (404): %v, %v", live, ok)
	}
	if _, ok := got[strings.ToLower(broken)]; ok || len(got) != 2 {
		t.Errorf("nothing may be concluded from an error or a malformed id: %v", got)
	}
	if n := gets.Load(); n != 3 {
		t.Errorf("%d GETs for 3 well-formed ids, want one each", n)
	}
}
