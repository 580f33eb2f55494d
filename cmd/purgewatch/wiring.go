package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// loadForCommand is the one-shot commands' start: the configuration, pointed at the built-in
// simulated estate when demo is set. stop ends the simulator.
func loadForCommand(path string, demo bool) (cfg *config.Config, stop func(), err error) {
	if cfg, err = loadConfig(path); err != nil {
		return nil, nil, err
	}
	if !demo {
		return cfg, func() {}, nil
	}
	sim, err := startDemo()
	if err != nil {
		return nil, nil, err
	}
	sim.apply(cfg)
	return cfg, sim.stop, nil
}

// loadConfig reads the file named, or takes the defaults when none is named.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		c := config.Default()
		return &c, nil
	}
	cfg, err := config.Load(path)
	if err == nil {
		secrets.Add(cfg.Secrets()...)
	}
	return cfg, err
}

// demo is the built-in simulated estate, served on loopback for --demo, with a scratch directory
// for the notification log.
type demo struct {
	running *armsim.Running
	dir     string
}

func startDemo() (*demo, error) {
	dir, err := os.MkdirTemp("", "purgewatch-demo-")
	if err != nil {
		return nil, err
	}
	// ARM's read budget, so the demo reports the remaining reads as Azure does.
	running, err := armsim.Start(armsim.New(armsim.DemoEstate(time.Now()), armsim.Options{Burst: 250, PerSecond: 25}))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &demo{running: running, dir: dir}, nil
}

// apply points a configuration at the simulator, whatever the file says about Azure, and, unless
// the file names channels, announces on stdout with a scratch notification log.
func (d *demo) apply(cfg *config.Config) {
	cfg.Azure.Endpoint, cfg.Azure.Auth = d.running.URL, config.AuthNone
	cfg.Azure.Subscriptions, cfg.Azure.ExcludeSubscriptions = nil, nil
	if len(cfg.Notify.Channels) == 0 {
		cfg.Notify.Channels = []config.Channel{{Name: "stdout", Type: config.ChannelLog, Timeout: 10 * time.Second}}
	}
	if cfg.Notify.StateFile == "" {
		cfg.Notify.StateFile = filepath.Join(d.dir, "state.db")
	}
}

func (d *demo) stop() {
	_ = d.running.Close()
	_ = os.RemoveAll(d.dir)
}

// newScanner wires a Scanner to ARM (or a simulator) as cfg says.
func newScanner(cfg *config.Config, observer arm.Observer, log *zap.Logger, memory scanner.BinMemory) (*scanner.Scanner, error) {
	a, err := newAzure(cfg, observer, log, memory)
	if err != nil {
		return nil, err
	}
	return a.scanner, nil
}

// azure is everything that talks to ARM, built once from a configuration.
type azure struct {
	scanner  *scanner.Scanner
	pipeline *arm.Pipeline
	cred     azcore.TokenCredential
	endpoint string
}

func newAzure(cfg *config.Config, observer arm.Observer, log *zap.Logger, memory scanner.BinMemory) (*azure, error) {
	a := cfg.Azure
	cred, err := arm.Credential(arm.Identity{Auth: a.Auth, Cloud: a.Cloud, TenantID: a.TenantID, ClientID: a.ClientID, ClientSecret: a.ClientSecret})
	if err != nil {
		return nil, err
	}
	pl, err := arm.New(arm.Options{Cloud: cfg.Azure.Cloud, Endpoint: cfg.Azure.Endpoint,
		Concurrency: cfg.Azure.Concurrency, TryTimeout: cfg.Azure.RequestTimeout, Observer: observer})
	if err != nil {
		return nil, fmt.Errorf("azure pipeline: %w", err)
	}
	s := scanner.New(scanner.Options{Pipeline: pl, Credential: cred,
		Subscriptions: cfg.Azure.Subscriptions, Exclude: cfg.Azure.ExcludeSubscriptions,
		DefaultRetentionDays: cfg.Retention.DefaultDays, Concurrency: cfg.Azure.Concurrency,
		Discovery: cfg.Azure.Discovery, ManagementGroups: cfg.Azure.ManagementGroups,
		Incremental: cfg.Scan.Incremental, FullEvery: cfg.Scan.FullEvery, BinMemory: memory,
		Clock: clock.Real{}, Logger: log})
	return &azure{scanner: s, pipeline: pl, cred: cred, endpoint: arm.Endpoint(cfg.Azure.Cloud, cfg.Azure.Endpoint)}, nil
}

// scanOnce is a one-shot command's scan: ARM clients for cfg and one scan within scan.timeout.
// The scanner comes back too, for commands that read more (the audit's inventory).
func scanOnce(ctx context.Context, cfg *config.Config) (*scanner.Scanner, *scanner.Snapshot, error) {
	s, err := newScanner(cfg, nil, zap.NewNop(), nil)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Scan.Timeout)
	defer cancel()
	snap, err := s.Scan(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("scan failed: %w", err)
	}
	return s, snap, nil
}
