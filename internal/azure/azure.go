// Package azure builds purgewatch's connection to Azure from a configuration: the credential, the
// ARM pipeline every client shares, and the scanner on it. In `run` it also keeps the scanner in
// effect across reloads (InEffect), so that every part that reads Azure reads it through one
// pipeline and one read budget per subscription.
package azure

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

// Conn is everything that talks to ARM, built once from a configuration.
type Conn struct {
	Scanner    *scanner.Scanner
	Pipeline   *arm.Pipeline
	Credential azcore.TokenCredential
	Endpoint   string // the ARM base URL
}

// Options are what a connection needs beyond the configuration; all may be left zero.
type Options struct {
	Observer arm.Observer // hears of every request (the metrics)
	Log      *zap.Logger
	// Memory keeps incremental scans' memory of the recycle bins: the state file, or nil.
	Memory scanner.BinMemory
}

// Connect builds the connection cfg asks for. Nothing is sent until it is used.
func Connect(cfg *config.Config, o Options) (*Conn, error) {
	a := cfg.Azure
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	cred, err := arm.Credential(arm.Identity{Auth: a.Auth, Cloud: a.Cloud, TenantID: a.TenantID, ClientID: a.ClientID, ClientSecret: a.ClientSecret})
	if err != nil {
		return nil, err
	}
	pl, err := arm.New(arm.Options{Cloud: a.Cloud, Endpoint: a.Endpoint,
		Concurrency: a.Concurrency, TryTimeout: a.RequestTimeout, Observer: o.Observer})
	if err != nil {
		return nil, fmt.Errorf("azure pipeline: %w", err)
	}
	s := scanner.New(scanner.Options{Pipeline: pl, Credential: cred,
		Subscriptions: a.Subscriptions, Exclude: a.ExcludeSubscriptions,
		DefaultRetentionDays: cfg.Retention.DefaultDays, Concurrency: a.Concurrency,
		Discovery: a.Discovery, ManagementGroups: a.ManagementGroups,
		Incremental: cfg.Scan.Incremental, FullEvery: cfg.Scan.FullEvery, BinMemory: o.Memory,
		Clock: clock.Real{}, Logger: o.Log})
	return &Conn{Scanner: s, Pipeline: pl, Credential: cred, Endpoint: arm.Endpoint(a.Cloud, a.Endpoint)}, nil
}
