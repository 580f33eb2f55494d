package arm

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// budgeted returns a pipeline to srv with the given bounds, and the bare runtime pipeline its
// client options make.
func budgeted(t *testing.T, srv *httptest.Server, maxBody, inFlight int64) (*Pipeline, runtime.Pipeline) {
	t.Helper()
	p, err := New(Options{Endpoint: srv.URL, MaxRetries: -1, MaxBody: maxBody, BodiesInFlight: inFlight})
	if err != nil {
		t.Fatal(err)
	}
	return p, runtime.NewPipeline("test", "v0", runtime.PipelineOptions{}, &p.ClientOptions().ClientOptions)
}

// get reads path's body through pl, for a call carrying a (nil: none).
func get(t *testing.T, pl runtime.Pipeline, url string, a *Answer) (string, error) {
	t.Helper()
	ctx := context.Background()
	if a != nil {
		ctx = WithAnswer(ctx, a)
	}
	req, err := runtime.NewRequest(ctx, http.MethodGet, url)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := pl.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// TestABodyPastTheSharedBudgetWaitsForTheLane: two bodies that each need more than the shared
// budget are never held at once. The second waits for the lane until the first's page is given
// back (its Answer Done), then arrives whole; afterwards nothing is held.
func TestABodyPastTheSharedBudgetWaitsForTheLane(t *testing.T) {
	body := `"` + strings.Repeat("x", 1500) + `"` // no structure: weight = bytes
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	p, pl := budgeted(t, srv, 10_000, 1000)
	waiting := make(chan struct{}, 1)
	p.bodies.waiting = func() { waiting <- struct{}{} }

	var first Answer
	if got, err := get(t, pl, srv.URL, &first); err != nil || got != body {
		t.Fatalf("first body: %d bytes, %v", len(got), err)
	}
	if !first.lane {
		t.Fatalf("a body of weight %d past a shared budget of 1000 does not hold the lane", len(body))
	}
	type result struct {
		body string
		err  error
	}
	var second Answer
	done := make(chan result, 1)
	go func() {
		got, err := get(t, pl, srv.URL, &second)
		done <- result{got, err}
	}()
	<-waiting // the second body is past the shared budget, and the lane is held
	select {
	case r := <-done:
		t.Fatalf("the second body was read while the first's page was held: %d bytes, %v", len(r.body), r.err)
	default:
	}
	first.Done()
	if r := <-done; r.err != nil || r.body != body {
		t.Fatalf("second body after the first was given back: %d bytes, %v", len(r.body), r.err)
	}
	second.Done()
	second.Done() // a second Done gives nothing back twice
	if used := p.bodies.used.Load(); used != 0 || len(p.bodies.lane) != 0 {
		t.Errorf("after both were given back: %d of the shared budget used, lane held %v", used, len(p.bodies.lane) == 1)
	}
}

// TestACallWithoutAnAnswerGivesItsShareBackOnceRead: audit and restore read through the same
// pipeline without an Answer; what their bodies took must not stay taken.
func TestACallWithoutAnAnswerGivesItsShareBackOnceRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"value":[`+strings.Repeat(`{"name":"1.0.0"},`, 200)+`{}]}`)
	}))
	defer srv.Close()
	p, pl := budgeted(t, srv, 1<<20, 1000) // the body is past the shared part: it takes the lane too
	for range 3 {                          // a held lane would make the second call wait for ever
		if _, err := get(t, pl, srv.URL, nil); err != nil {
			t.Fatal(err)
		}
	}
	if used := p.bodies.used.Load(); used != 0 || len(p.bodies.lane) != 0 {
		t.Errorf("after the calls: %d of the shared budget used, lane held %v", used, len(p.bodies.lane) == 1)
	}
}

// TestABodyIsWeighedByItsStructure: `[{},{},…]` costs the SDK 22 bytes of heap a byte, so a
// body of them is refused at a tenth of the cap in bytes, while a real recycle-bin page weighs
// about twice its size.
func TestABodyIsWeighedByItsStructure(t *testing.T) {
	dense := `{"value":[` + strings.Repeat(`{},`, 3000) + `{}]}` // 9 KB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, dense)
	}))
	defer srv.Close()
	_, pl := budgeted(t, srv, 90_000, 0)
	if _, err := get(t, pl, srv.URL, nil); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("a %d-byte body of empty objects under a cap of 90,000: %v, want ErrBodyTooLarge", len(dense), err)
	}
	page, err := os.ReadFile("../armsim/testdata/softdeleted-list-2024-03-03.json")
	if err != nil {
		t.Fatal(err)
	}
	if w := Weigh(page); w > 3*int64(len(page)) {
		t.Errorf("a real recycle-bin page of %d bytes weighs %d: more than 3 times its size", len(page), w)
	}
	if got := Weigh([]byte(`[{},{"a":1}]`)); got != 12+5*structureWeight {
		t.Errorf("Weigh([{},{\"a\":1}]) = %d, want %d", got, 12+5*structureWeight)
	}
}
