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
	"syscall"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
)

func main() {
	subs := flag.Int("subscriptions", 100, "subscriptions")
	galleries := flag.Int("galleries", 10, "galleries per subscription")
	images := flag.Int("images", 10, "image definitions per gallery")
	versions := flag.Int("versions", 10, "soft-deleted versions per image definition")
	latency := flag.Duration("latency", 20*time.Millisecond, "added to every request")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	burst := flag.Int("burst", 250, "each subscription's read bucket (ARM's is 250)")
	perSecond := flag.Float64("per-second", 25, "its refill, reads a second (ARM's is 25; less, as when others share the budget)")
	flag.Parse()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "armsim:", err)
		os.Exit(1)
	}
	estate := armsim.Synthetic(time.Now(), *subs, *galleries, *images, *versions)
	sim := armsim.New(estate, armsim.Options{Latency: *latency, Burst: *burst, PerSecond: *perSecond})
	mux := http.NewServeMux()
	mux.Handle("/", sim)
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
