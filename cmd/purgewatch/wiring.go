package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/azure"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/scanner"
)

// loadForCommand is the one-shot commands' start: the configuration, pointed at the built-in
// simulated estate when demo is set. stop ends the simulator.
func loadForCommand(path string, demo bool) (cfg *config.Config, stop func(), err error) {
	src := &config.Source{Path: path, Secrets: &secrets}
	stop = func() {}
	if demo {
		sim, err := startDemo()
		if err != nil {
			return nil, nil, err
		}
		src.Overrides.Demo, stop = sim.config(), sim.stop
	}
	if cfg, err = src.Load(); err != nil {
		stop()
		return nil, nil, err
	}
	return cfg, stop, nil
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

// config is what a configuration needs to point at the simulator.
func (d *demo) config() *config.Demo {
	return &config.Demo{Endpoint: d.running.URL, StateDir: d.dir}
}

func (d *demo) stop() {
	_ = d.running.Close()
	_ = os.RemoveAll(d.dir)
}

// scanOnce is a one-shot command's scan: ARM clients for cfg and one scan within scan.timeout.
// The scanner comes back too, for commands that read more (the audit's inventory).
func scanOnce(ctx context.Context, cfg *config.Config) (*scanner.Scanner, *scanner.Snapshot, error) {
	conn, err := azure.Connect(cfg, azure.Options{})
	if err != nil {
		return nil, nil, err
	}
	s := conn.Scanner
	ctx, cancel := context.WithTimeout(ctx, cfg.Scan.Timeout)
	defer cancel()
	snap, err := s.Scan(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("scan failed: %w", err)
	}
	deleters.New(s, nil, nil).Attribute(ctx, snap, time.Now()) // who deleted each, as the daemon tells
	return s, snap, nil
}
