package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// loadConfig reads the file named, or takes the defaults when none is named.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		c := config.Default()
		return &c, nil
	}
	return config.Load(path)
}

// startDemo starts the built-in simulated estate on loopback and points cfg at it.
func startDemo(cfg *config.Config) (stop func(), err error) {
	sim := armsim.New(armsim.DemoEstate(time.Now()), armsim.Options{})
	running, err := armsim.Start(sim)
	if err != nil {
		return nil, err
	}
	cfg.Azure.Endpoint, cfg.Azure.Auth = running.URL, config.AuthNone
	cfg.Azure.Subscriptions, cfg.Azure.ExcludeSubscriptions = nil, nil
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = running.Close(ctx)
	}, nil
}

// newScanner wires a Scanner to ARM (or a simulator) as cfg says.
func newScanner(cfg *config.Config, observer arm.Observer, log *zap.Logger) (*scanner.Scanner, error) {
	cred, err := arm.Credential(cfg.Azure)
	if err != nil {
		return nil, err
	}
	pl, err := arm.New(arm.Options{Cloud: cfg.Azure.Cloud, Endpoint: cfg.Azure.Endpoint,
		Concurrency: cfg.Azure.Concurrency, Observer: observer})
	if err != nil {
		return nil, fmt.Errorf("azure pipeline: %w", err)
	}
	return scanner.New(scanner.Options{Pipeline: pl, Credential: cred,
		Subscriptions: cfg.Azure.Subscriptions, Exclude: cfg.Azure.ExcludeSubscriptions,
		DefaultRetentionDays: cfg.Retention.DefaultDays, Concurrency: cfg.Azure.Concurrency,
		Clock: clock.Real{}, Logger: log}), nil
}
