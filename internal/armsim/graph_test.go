package armsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/clock"
)

func query(t *testing.T, s *Server, body string) (*http.Response, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, GraphPath+"?api-version=2024-04-01", strings.NewReader(body)))
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Result(), out
}

// Resource Graph answers purgewatch's queries a page at a time, refuses anything else and a
// $skipToken it did not issue, and counts each query against the quota, as the service does.
func TestResourceGraphPagesRefusesAndCountsTheQuota(t *testing.T) {
	fc := clock.NewFake(t0)
	s := New(estate(), Options{Clock: fc, GraphQuota: 2, GraphWindow: 5 * time.Second})
	resp, page := query(t, s, `{"query": "resources | where type =~ 'microsoft.compute/galleries' | project id", "options": {"$top": 1}}`)
	if resp.StatusCode != 200 || page["count"] != 1.0 || page["$skipToken"] == nil || resp.Header.Get("x-ms-user-quota-remaining") != "1" ||
		resp.Header.Get("x-ms-user-quota-resets-after") != "00:00:05" {
		t.Fatalf("first page: %d %v, quota %q resets %q", resp.StatusCode, page, resp.Header.Get("x-ms-user-quota-remaining"), resp.Header.Get("x-ms-user-quota-resets-after"))
	}
	resp, _ = query(t, s, `{"query": "resources | take 1"}`)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a query armsim does not know: %d", resp.StatusCode)
	}
	resp, body := query(t, s, `{"query": "resources | where type =~ 'microsoft.compute/galleries'", "options": {"$skipToken": "made-up"}}`)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("the third query in the window: %d %v, Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	fc.Advance(5 * time.Second)
	if resp, _ := query(t, s, `{"query": "resources | where type =~ 'microsoft.compute/galleries'", "options": {"$skipToken": "made-up"}}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a $skipToken armsim did not issue: %d", resp.StatusCode)
	}
}
