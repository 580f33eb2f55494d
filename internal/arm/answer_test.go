package arm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// TestAnAnswerIsWholeOnlyWhenASuccessBodyArrivedInFull: the scanner calls a failure on a whole
// answer undecodable, so a server error, a body over the cap, or a dropped connection must not
// count as whole, and a 200 with any body must.
func TestAnAnswerIsWholeOnlyWhenASuccessBodyArrivedInFull(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(`{"value": [not json`))
		case "/large":
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		case "/dropped":
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte(`{"value": [`))
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	p, err := New(Options{Endpoint: srv.URL, MaxRetries: -1, MaxBody: 1024})
	if err != nil {
		t.Fatal(err)
	}
	pl := runtime.NewPipeline("test", "v0", runtime.PipelineOptions{}, &p.ClientOptions().ClientOptions)
	for path, want := range map[string]bool{"/ok": true, "/large": false, "/dropped": false, "/fail": false} {
		var a Answer
		req, err := runtime.NewRequest(WithAnswer(context.Background(), &a), http.MethodGet, srv.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := pl.Do(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		if a.Whole() != want {
			t.Errorf("%s: Whole() = %v (err %v), want %v", path, a.Whole(), err, want)
		}
	}
}
