package scanner_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/scanner"
)

// TestAScanKeepsItsConnections: a scan of hundreds of requests at concurrency 16 opens about one
// connection per request in flight, not one per request (Go's default keeps two idle per host,
// and against ARM each new connection is a TLS handshake).
func TestAScanKeepsItsConnections(t *testing.T) {
	sim := armsim.New(armsim.Synthetic(t0, 2, 5, 40, 2), armsim.Options{Clock: clock.NewFake(t0), Latency: time.Millisecond})
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(sim)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	const concurrency = 16
	pl, err := arm.New(arm.Options{Endpoint: srv.URL, Concurrency: concurrency, RetryDelay: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := scanner.New(scanner.Options{Pipeline: pl, Concurrency: concurrency}).Scan(context.Background())
	if err != nil || snap.Partial() {
		t.Fatalf("scan: %v %v", err, snap.Errors)
	}
	requests := len(sim.Requests())
	if n := opened.Load(); requests < 400 || n > concurrency+4 {
		t.Errorf("%d requests opened %d connections; want at most %d (the concurrency and a few)", requests, n, concurrency+4)
	}
}
