// Command armsim serves a simulated ARM estate over HTTP, as its own process, so that
// purgewatch's benchmarks measure the daemon alone (docs/benchmarks.md). It prints the URL it
// listens on, then serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
)

// heaviest builds a recycle-bin page weighing just under limit as purgewatch weighs bodies
// (arm.Weigh): the worst a hostile service can send under the cap, for the memory benchmark.
func heaviest(kind string, limit int64) ([]byte, error) {
	const margin = 4 << 10
	switch kind {
	case "padded":
		head, tail := `{"value":[{"name":"1.0.0","tags":{"pad":"`, `"}}]}`
		n := limit - margin - arm.Weigh([]byte(head+tail))
		return []byte(head + strings.Repeat("x", int(n)) + tail), nil
	case "dense":
		head, item, tail := `{"value":[`, `{},`, `{}]}`
		n := (limit - margin - arm.Weigh([]byte(head+tail))) / arm.Weigh([]byte(item))
		return []byte(head + strings.Repeat(item, int(n)) + tail), nil
	}
	return nil, fmt.Errorf("%q is neither padded nor dense", kind)
}

func main() {
	subs := flag.Int("subscriptions", 100, "subscriptions")
	galleries := flag.Int("galleries", 10, "galleries per subscription")
	images := flag.Int("images", 10, "image definitions per gallery")
	versions := flag.Int("versions", 10, "soft-deleted versions per image definition")
	latency := flag.Duration("latency", 20*time.Millisecond, "added to every request")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	burst := flag.Int("burst", 250, "each subscription's read bucket (ARM's is 250)")
	perSecond := flag.Float64("per-second", 25, "its refill, reads a second (ARM's is 25; less, as when others share the budget)")
	heavy := flag.String("heavy-bins", "", "answer every recycle-bin listing with the heaviest body purgewatch accepts: padded (one long string) or dense (empty objects)")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "armsim:", err)
		os.Exit(1)
	}
	estate := armsim.Synthetic(time.Now(), *subs, *galleries, *images, *versions)
	sim := armsim.New(estate, armsim.Options{Latency: *latency, Burst: *burst, PerSecond: *perSecond})
	mux := http.NewServeMux()
	if *heavy != "" {
		body, err := heaviest(*heavy, arm.DefaultMaxBody)
		if err != nil {
			fmt.Fprintln(os.Stderr, "armsim: -heavy-bins:", err)
			os.Exit(2)
		}
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			// ARM's paths are case-insensitive, and the SDK spells this one in lower case.
			if p := strings.ToLower(r.URL.Path); r.Method == http.MethodGet && strings.Contains(p, "/softdeletedartifacttypes/") && strings.HasSuffix(p, "/versions") {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
				return
			}
			sim.ServeHTTP(w, r)
		})
	} else {
		mux.Handle("/", sim)
	}
	// The benchmark's lever, not ARM's: POST /_armsim/churn?n=N moves N versions through the bins.
	mux.HandleFunc("POST /_armsim/churn", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			http.Error(w, "n: takes a count of versions", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, sim.Churn(n, time.Now()))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "armsim:", err)
		os.Exit(1)
	}
}
