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
	"go.uber.org/zap/zapcore"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/daemon"
	"github.com/purgewatch/purgewatch/internal/reload"
	pwweb "github.com/purgewatch/purgewatch/internal/web"
	"github.com/purgewatch/purgewatch/metrics"
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
	var sim *demo
	if *f.demo {
		var err error
		if sim, err = startDemo(); err != nil {
			fmt.Fprintln(stderr, "purgewatch:", err)
			return exitFailed
		}
		defer sim.stop()
	}
	// load is the one way a configuration is read, at start and on reload.
	load := func() (*config.Config, error) {
		cfg, err := loadConfig(*f.config)
		if err != nil {
			return nil, err
		}
		if sim != nil {
			sim.apply(cfg)
		}
		return cfg, f.override(cfg)
	}
	cfg, err := load()
	if err != nil {
		printErrors(stderr, err)
		return exitFailed
	}
	level := zap.NewAtomicLevel()
	log := newLogger(cfg.Log, level, secrets.Writer(stderr))
	defer func() { _ = log.Sync() }()
	limitMemory(memlimit.FromCgroup, log)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	proc := metrics.NewProcess(reg)
	state := &stateFile{}
	scanners := &scannerSet{observer: proc, log: log.Named("scanner"), memory: state}
	notifier, store, err := startNotifier(cfg, reg, stdout, scanners, log.Named("notify"))
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	if store != nil {
		state.set(store)
		defer store.Close()
	}
	var announcer daemon.Announcer
	if notifier != nil {
		announcer = notifier
	}
	d, err := daemon.New(cfg, daemon.Options{
		Build:     func(c *config.Config) (daemon.Scanner, error) { return scanners.For(c) },
		Announcer: announcer, Logger: log.Named("daemon"), Metrics: proc, Settle: releaseMemory,
	})
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	reg.MustRegister(metrics.NewSnapshotCollector(d.State))
	exposition := metrics.NewExposition(reg, d.State, clock.Real{}.Now, cfg.Metrics.Relative, log.Named("metrics"))
	// Every part a configuration steers, built before the first reload can come.
	coord := reload.New(cfg, load, log.Named("reload"), func(ok bool) { proc.ConfigLoaded(ok, time.Now()) })
	coord.Register(d, notifierPart(notifier, stdout, scanners, log.Named("notify")),
		reload.Func(func(_, next *config.Config) (func(), error) {
			return func() {
				_ = level.UnmarshalText([]byte(next.Log.Level))
				exposition.SetRelative(next.Metrics.Relative)
			}, nil
		}))

	var listeners []net.Listener
	if !*f.web.WebSystemdSocket {
		for _, addr := range f.addresses(cfg) {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				for _, l := range listeners {
					l.Close()
				}
				log.Error("cannot listen", zap.String("listen", addr), zap.Error(err))
				return exitFailed
			}
			listeners = append(listeners, ln)
		}
	}
	webOpts := pwweb.Options{
		Daemon: d, Reload: coord.Reload, Gatherer: reg, Metrics: exposition, Now: clock.Real{}.Now, Logger: log.Named("web"), Version: version.Version,
		ARMEndpoint:     func() string { c := d.Config(); return arm.Endpoint(c.Azure.Cloud, c.Azure.Endpoint) },
		Thresholds:      func() []time.Duration { return d.Config().Notify.Thresholds },
		EnableLifecycle: cfg.Server.EnableLifecycle,
	}
	if notifier != nil {
		webOpts.Notifications = notifier
	}
	srv := pwweb.NewServer(pwweb.Handler(webOpts))
	flags := &web.FlagConfig{WebListenAddresses: &[]string{cfg.Server.Listen}, WebConfigFile: &cfg.Server.WebConfigFile,
		WebSystemdSocket: f.web.WebSystemdSocket}
	webLog := slog.New(zapslog.NewHandler(log.Core(), zapslog.WithName("web")))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Go(func() {
		serve := func() error { return web.ServeMultiple(listeners, srv, flags, webLog) }
		if len(listeners) == 0 { // --web.systemd-socket: systemd hands over the sockets
			serve = func() error { return web.ListenAndServe(srv, flags, webLog) }
		}
		if err := serve(); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	})
	wg.Go(func() { _ = d.Run(ctx) })
	if notifier != nil {
		wg.Go(func() { notifier.Run(ctx) })
	}

	reload := hooks.reload
	if reload == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP)
		defer signal.Stop(ch)
		reload = ch
	}
	log.Info("purgewatch started", zap.String("version", version.Version), zap.String("revision", version.GetRevision()), zap.Stringers("listen", addrs(listeners)),
		zap.String("schedule", cfg.Scan.Schedule), zap.Bool("demo", *f.demo))
	if hooks.listening != nil && len(listeners) > 0 {
		hooks.listening <- listeners[0].Addr().String()
	}

	code := exitOK
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-reload:
			_ = coord.Reload()
		case err := <-serveErr:
			log.Error("http server failed", zap.Error(err))
			code = exitFailed
			break loop
		}
	}
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

// newLogger builds the logger of `run`: JSON lines by default, console on request.
func newLogger(c config.Log, level zap.AtomicLevel, w io.Writer) *zap.Logger {
	_ = level.UnmarshalText([]byte(c.Level))
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	enc := zapcore.NewJSONEncoder(encCfg)
	if c.Format == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level))
}

func addrs(listeners []net.Listener) []net.Addr {
	a := make([]net.Addr, len(listeners))
	for i, l := range listeners {
		a[i] = l.Addr()
	}
	return a
}
