package notify

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/config"
)

// SettingsFor builds the channels and settings cfg describes; log channels write to stdout.
func SettingsFor(cfg *config.Config, stdout io.Writer) (Settings, error) {
	deps := Deps{Log: stdout, AlertLead: alertLead(cfg.Scan.Schedule), TagLabels: cfg.Metrics.TagLabels}
	s := Settings{Routes: cfg.Notify.Routes, Thresholds: cfg.Notify.Thresholds, Retry: cfg.Notify.Retry,
		Routine:     cfg.Notify.Routine,
		ARMEndpoint: arm.Endpoint(cfg.Azure.Cloud, cfg.Azure.Endpoint), BlindAfter: cfg.Notify.BlindAfter, Keep: cfg.Notify.Keep,
		ExternalURL: cfg.Server.ExternalURL, StoragePrice: cfg.Metrics.StoragePricePerGBMonth}
	if cfg.Notify.Routine == config.RoutineDigest {
		sched, err := config.ParseDigestSchedule(cfg.Notify.DigestSchedule)
		if err != nil {
			return s, fmt.Errorf("notify.digestSchedule: %w", err)
		}
		s.Digest = sched
	}
	for _, c := range cfg.Notify.Channels {
		ch, err := NewChannel(c, deps)
		if err != nil {
			return s, err
		}
		s.Channels = append(s.Channels, ch)
	}
	return s, nil
}

// alertLead is how far ahead an active Alertmanager alert ends: three scan intervals, so that a
// scan or two that fail do not resolve it, and purgewatch stopping does.
func alertLead(schedule string) time.Duration {
	sched, err := config.ParseSchedule(schedule)
	if err != nil {
		return time.Hour
	}
	first := sched.Next(time.Now())
	return max(3*sched.Next(first).Sub(first), 5*time.Minute)
}

// Part is the notifier's part of `run` and of each reload (reload.Component): it builds the
// channels a configuration names (a channel that cannot be built refuses the whole reload), with
// the scanner in effect to ask whether a version that left the bin was recovered. A notifier that
// does not exist (no channel at start) or a changed state file waits for a restart, and says so.
type Part struct {
	Notifier *Notifier // nil when `run` started without channels
	Stdout   io.Writer // where log channels write
	Liveness Liveness
	Log      *zap.Logger
}

// Settings are the notification settings of `run` for cfg.
func (p *Part) Settings(cfg *config.Config) (Settings, error) {
	s, err := SettingsFor(cfg, p.Stdout)
	s.Liveness = p.Liveness
	return s, err
}

// Prepare is reload.Component's.
func (p *Part) Prepare(old, next *config.Config) (func(), error) {
	s, err := p.Settings(next)
	if err != nil {
		return nil, err
	}
	return func() {
		switch {
		case p.Notifier == nil && len(next.Notify.Channels) > 0:
			p.Log.Warn("notification channels were added: they start on restart, with the state file")
		case p.Notifier == nil:
		case next.Notify.StateFile != old.Notify.StateFile:
			p.Log.Warn("notify.stateFile changes only on restart", zap.String("stateFile", old.Notify.StateFile))
			p.Notifier.Configure(s)
		default:
			p.Notifier.Configure(s)
		}
	}, nil
}
