package config

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
)

// Source is where `run` and the one-shot commands read their configuration, at start and on each
// reload: the file (the defaults when none is named), then what the command line overrides. It
// is data, not code of the command's, so a reload reads it without calling back into main.
type Source struct {
	Path      string
	Overrides Overrides
	// Secrets, when set, is told every secret a loaded configuration holds, so that everything
	// written masks them (redact.Set).
	Secrets interface{ Add(secrets ...string) }
}

// Load reads and validates the file, and applies the overrides.
func (s *Source) Load() (*Config, error) {
	cfg := Default()
	c := &cfg
	if s.Path != "" {
		var err error
		if c, err = Load(s.Path); err != nil {
			return nil, err
		}
		if s.Secrets != nil {
			s.Secrets.Add(c.Secrets()...)
		}
	}
	if err := s.Overrides.Apply(c); err != nil {
		return nil, err
	}
	return c, nil
}

// Overrides are the command line's settings over the file's. Empty fields leave the file's.
type Overrides struct {
	Listen          string // the first --web.listen-address
	WebConfigFile   string
	EnableLifecycle *bool
	ExternalURL     string
	LogLevel        string
	LogFormat       string
	// Demo points the configuration at the built-in simulated estate (--demo).
	Demo *Demo
}

// Demo is the built-in simulated estate: its endpoint, and a scratch directory for the state file.
type Demo struct {
	Endpoint string
	StateDir string
}

// Apply sets what o overrides in cfg, checking what the file's validation could not see.
func (o Overrides) Apply(cfg *Config) error {
	if o.Listen != "" {
		cfg.Server.Listen = o.Listen
	}
	if o.WebConfigFile != "" {
		if err := web.Validate(o.WebConfigFile); err != nil {
			return fmt.Errorf("--web.config.file %s: %w", o.WebConfigFile, err)
		}
		cfg.Server.WebConfigFile = o.WebConfigFile
	}
	if o.EnableLifecycle != nil {
		cfg.Server.EnableLifecycle = *o.EnableLifecycle
	}
	if o.ExternalURL != "" {
		if err := CheckExternalURL(o.ExternalURL); err != nil {
			return fmt.Errorf("--web.external-url: %w", err)
		}
		cfg.Server.ExternalURL = o.ExternalURL
	}
	if o.LogLevel != "" {
		cfg.Log.Level = o.LogLevel
	}
	if o.LogFormat != "" {
		cfg.Log.Format = o.LogFormat
	}
	if o.Demo != nil {
		o.Demo.apply(cfg)
	}
	return nil
}

// apply points a configuration at the simulator, whatever the file says about Azure, and, unless
// the file names channels, announces on stdout with a scratch notification log.
func (d *Demo) apply(cfg *Config) {
	cfg.Azure.Endpoint, cfg.Azure.Auth = d.Endpoint, AuthNone
	cfg.Azure.Subscriptions, cfg.Azure.ExcludeSubscriptions = nil, nil
	if len(cfg.Notify.Channels) == 0 {
		cfg.Notify.Channels = []Channel{{Name: "stdout", Type: ChannelLog, Timeout: 10 * time.Second}}
	}
	if cfg.Notify.StateFile == "" {
		cfg.Notify.StateFile = filepath.Join(d.StateDir, "state.db")
	}
}
