package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/azure"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/daemon"
	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/internal/ha"
	"github.com/purgewatch/purgewatch/internal/logging"
	"github.com/purgewatch/purgewatch/internal/reload"
	"github.com/purgewatch/purgewatch/internal/retained"
	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/internal/state"
	pwweb "github.com/purgewatch/purgewatch/internal/web"
	"github.com/purgewatch/purgewatch/metrics"
	"github.com/purgewatch/purgewatch/notify"
	"github.com/purgewatch/purgewatch/scanner"
)

// shutdownGrace bounds the HTTP drain on SIGTERM, inside the 10 s a supervisor gives.
const shutdownGrace = 8 * time.Second

// runHooks let tests drive the daemon in-process.
type runHooks struct {
	// listening, when set, receives the address the server listens on.
	listening chan<- string
	// reload delivers reload signals; nil subscribes to SIGHUP.
	reload <-chan os.Signal
}

func runCommand(ctx context.Context, f *runFlags, stdout, stderr io.Writer, hooks runHooks) int {
	// The configuration comes from one Source, read again on each reload: the file, then the
	// flags, pointed at the built-in simulated estate under --demo.
	src := &config.Source{Path: *f.config, Overrides: f.overrides(), Secrets: &secrets}
	if *f.demo {
		sim, err := startDemo()
		if err != nil {
			fmt.Fprintln(stderr, "purgewatch:", err)
			return exitFailed
		}
		defer sim.stop()
		src.Overrides.Demo = sim.config()
	}
	cfg, err := src.Load()
	if err != nil {
		printErrors(stderr, err)
		return exitFailed
	}
	log, level := logging.New(cfg.Log, secrets.Writer(stderr))
	defer func() { _ = log.Sync() }()
	limitMemory(memlimit.FromCgroup, log)
	p, err := buildParts(cfg, src, level, stdout, log)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	defer p.close()
	listeners, err := listen(f, cfg)
	if err != nil {
		log.Error("cannot listen", zap.Error(err))
		return exitFailed
	}
	if *f.demo && len(listeners) > 0 { // a newcomer's first question: where is it?
		fmt.Fprintf(stderr, "purgewatch --demo: open http://%s/ to see the simulated estate (metrics at /metrics; Ctrl-C stops)\n", browsable(listeners[0].Addr()))
	}
	return p.serve(ctx, f, cfg, listeners, hooks, log)
}

// listenAddresses are the flags', else the configuration's; the demo, left at the default, listens
// on loopback alone: it is for the machine it runs on unless told otherwise.
func listenAddresses(f *runFlags, cfg *config.Config) []string {
	addresses := f.addresses(cfg)
	if *f.demo && slices.Equal(addresses, []string{config.Default().Server.Listen}) {
		return []string{"127.0.0.1" + config.Default().Server.Listen}
	}
	return addresses
}

// browsable is addr as a browser on this machine reaches it: a wildcard host is localhost.
func browsable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// parts are what `run` is made of, built in this order: the state file (the scanner keeps its
// memory of the recycle bins in it), the scanner in effect, the notifier, the daemon, the
// exposition, and the reload coordinator that steers them all. Each part a configuration steers
// is a reload.Component of its own package: a reload never comes back here.
type parts struct {
	reg        *prometheus.Registry
	state      *state.File      // nil when no channel is configured
	notifier   *notify.Notifier // likewise
	replica    *ha.Replica      // nil unless ha.backend is set
	daemon     *daemon.Daemon
	exposition *metrics.Exposition
	coord      *reload.Coordinator
}

func buildParts(cfg *config.Config, src *config.Source, level logging.Level, stdout io.Writer, log *zap.Logger) (p *parts, err error) {
	p = &parts{reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	proc := metrics.NewProcess(p.reg)
	var memory scanner.BinMemory
	if len(cfg.Notify.Channels) > 0 {
		if p.state, err = state.Open(cfg.Notify.StateFile); err != nil {
			return p, err
		}
		memory = p.state
	}
	scans, err := azure.NewInEffect(cfg, azure.Options{Observer: proc, Log: log.Named("scanner"), Memory: memory})
	if err != nil {
		return p, err
	}
	np := &notify.Part{Stdout: stdout, Liveness: scans, Log: log.Named("notify")}
	settings, err := np.Settings(cfg)
	if err != nil {
		return p, err
	}
	opts := daemon.Options{Scanner: scans, Logger: log.Named("daemon"), Metrics: proc, Settle: func() {
		if p.exposition != nil { // built after the daemon; a scan is never published before it is
			p.exposition.Prerender() // every scrape a copy: none renders the new scan itself
		}
		releaseMemory()
	}}
	var remember deleters.Store // the state file, when there is one: the Activity Log is asked once a version
	if p.state != nil {
		remember = p.state
	}
	opts.Deleters = deleters.New(scans, remember, log.Named("deleters"))
	var sizes retained.Store // likewise: what a version holds is seen only while it is live
	if p.state != nil {
		sizes = p.state
	}
	opts.Sizes = retained.New(sizes, log.Named("retained"))
	if p.state != nil {
		var nlog notify.Log = p.state
		if cfg.HA.Backend != "" { // several replicas: the log is shared, and only the leader writes it
			if p.replica, err = ha.New(cfg.HA, p.state, ha.Options{Log: log.Named("ha")}); err != nil {
				return p, err
			}
			nlog = p.replica.Log
		}
		p.notifier = notify.New(nlog, settings, nil, log.Named("notify"), notify.NewMetrics(p.reg))
		np.Notifier, opts.Announcer = p.notifier, p.notifier
		p.reg.MustRegister(silence.Collector(p.notifier.Silences(), clock.Real{}.Now))
		if p.replica != nil {
			opts.Announcer = p.replica.Serve(p.notifier, p.notifier.Wake)
			p.replica.Log.Synced = p.notifier.Silences().Forget
			p.reg.MustRegister(p.replica.Collector())
		}
	}
	if p.daemon, err = daemon.New(cfg, opts); err != nil {
		return p, err
	}
	p.reg.MustRegister(metrics.NewSnapshotCollector(p.daemon.State))
	p.exposition = metrics.NewExposition(p.reg, p.daemon.State, clock.Real{}.Now, cfg.Metrics.Relative, log.Named("metrics"))
	p.exposition.SetTagLabels(cfg.Metrics.TagLabels)
	p.coord = reload.New(cfg, src.Load, log.Named("reload"), proc.ConfigLoaded)
	p.coord.Register(scans, p.daemon, np, level, p.exposition, ha.Fixed{})
	return p, nil
}

func (p *parts) close() {
	if p.state != nil {
		_ = p.state.Close()
	}
}

// listen opens the configured addresses, unless systemd hands over the sockets.
func listen(f *runFlags, cfg *config.Config) ([]net.Listener, error) {
	if *f.web.WebSystemdSocket {
		return nil, nil
	}
	var listeners []net.Listener
	for _, addr := range listenAddresses(f, cfg) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		listeners = append(listeners, ln)
	}
	return listeners, nil
}

// handler is the web part: the page, the API and /metrics over the parts.
func (p *parts) handler(cfg *config.Config, log *zap.Logger) http.Handler {
	d := p.daemon
	opts := pwweb.Options{
		Daemon: d, Reload: p.coord.Reload, Gatherer: p.reg, Metrics: p.exposition, Now: clock.Real{}.Now, Logger: log.Named("web"), Version: version.Version,
		ARMEndpoint:     func() string { c := d.Config(); return arm.Endpoint(c.Azure.Cloud, c.Azure.Endpoint) },
		Thresholds:      func() []time.Duration { return d.Config().Notify.Thresholds },
		StoragePrice:    func() float64 { return d.Config().Metrics.StoragePricePerGBMonth },
		EnableLifecycle: cfg.Server.EnableLifecycle,
	}
	if p.notifier != nil {
		opts.Notifications, opts.Silences = p.notifier, p.notifier.Silences()
	}
	if r := p.replica; r != nil {
		opts.Replica = func() pwweb.Replica {
			return pwweb.Replica{Identity: r.Elector.Identity(), Leader: r.Elector.Leader(), Leading: r.Elector.Leading()}
		}
	}
	return pwweb.Handler(opts)
}

// serve runs the parts until ctx is done or the HTTP server fails, applying a reload on each
// SIGHUP; then it cancels the scan in flight, drains HTTP and waits for every goroutine.
func (p *parts) serve(ctx context.Context, f *runFlags, cfg *config.Config, listeners []net.Listener, hooks runHooks, log *zap.Logger) int {
	srv := pwweb.NewServer(p.handler(cfg, log))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- serveHTTP(srv, f, cfg, listeners, log) })
	wg.Go(func() { _ = p.daemon.Run(ctx) })
	// The lease outlives the notifier's workers: a send in flight at shutdown is recorded under
	// it, then the lease goes at once and a standby takes over.
	stopLeading := func() {}
	if p.replica != nil {
		var leading context.Context
		leading, stop := context.WithCancel(context.Background())
		defer stop() // already called, once the notifier stopped; this is for vet
		stopLeading = stop
		wg.Go(func() { p.replica.Elector.Run(leading) })
	}
	if p.notifier != nil {
		wg.Go(func() { p.notifier.Run(ctx); stopLeading() })
	}
	reloads := hooks.reload
	if reloads == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP)
		defer signal.Stop(ch)
		reloads = ch
	}
	log.Info("purgewatch started", zap.String("version", version.Version), zap.String("revision", version.GetRevision()), zap.Stringers("listen", addrs(listeners)),
		zap.String("schedule", cfg.Scan.Schedule), zap.Bool("demo", *f.demo))
	if hooks.listening != nil && len(listeners) > 0 {
		hooks.listening <- listeners[0].Addr().String()
	}
	code := p.loop(ctx, reloads, serveErr, log)
	log.Info("shutting down: cancelling the scan in flight and draining HTTP")
	cancel()
	drain, done := context.WithTimeout(context.Background(), shutdownGrace)
	defer done()
	if err := srv.Shutdown(drain); err != nil {
		log.Warn("http drain cut short", zap.Error(err))
		_ = srv.Close() // whatever is left, so no connection outlives the process's goroutines
	}
	wg.Wait()
	return code
}

// loop waits for the end, reloading on each signal.
func (p *parts) loop(ctx context.Context, reloads <-chan os.Signal, serveErr <-chan error, log *zap.Logger) int {
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-reloads:
			_ = p.coord.Reload()
		case err := <-serveErr:
			if err == nil {
				return exitOK
			}
			log.Error("http server failed", zap.Error(err))
			return exitFailed
		}
	}
}

// serveHTTP serves until the server is shut down (nil) or fails.
func serveHTTP(srv *http.Server, f *runFlags, cfg *config.Config, listeners []net.Listener, log *zap.Logger) error {
	flags := &web.FlagConfig{WebListenAddresses: &[]string{cfg.Server.Listen}, WebConfigFile: &cfg.Server.WebConfigFile,
		WebSystemdSocket: f.web.WebSystemdSocket}
	webLog := slog.New(zapslog.NewHandler(log.Core(), zapslog.WithName("web")))
	var err error
	if len(listeners) == 0 { // --web.systemd-socket: systemd hands over the sockets
		err = web.ListenAndServe(srv, flags, webLog)
	} else {
		err = web.ServeMultiple(listeners, srv, flags, webLog)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func addrs(listeners []net.Listener) []net.Addr {
	a := make([]net.Addr, len(listeners))
	for i, l := range listeners {
		a[i] = l.Addr()
	}
	return a
}
