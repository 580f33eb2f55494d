package main

import (
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/notify"
)

// notifySettings builds the channels and settings a configuration describes.
func notifySettings(cfg *config.Config, stdout io.Writer) (notify.Settings, error) {
	deps := notify.Deps{Log: stdout, AlertLead: alertLead(cfg.Scan.Schedule)}
	s := notify.Settings{Routes: cfg.Notify.Routes, Thresholds: cfg.Notify.Thresholds, Retry: cfg.Notify.Retry,
		ARMEndpoint: arm.Endpoint(cfg.Azure.Cloud, cfg.Azure.Endpoint), BlindAfter: cfg.Notify.BlindAfter, Keep: cfg.Notify.Keep,
		ExternalURL: cfg.Server.ExternalURL}
	for _, c := range cfg.Notify.Channels {
		ch, err := notify.NewChannel(c, deps)
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

// notifierPart is the notifier's part of `run` and of each reload: it builds the channels a
// configuration names (a channel that cannot be built refuses the whole reload), with the
// scanner in effect to ask whether a version that left the bin was recovered. A notifier that
// does not exist (no channel at start) or a changed state file waits for a restart, and says so.
type notifierPart struct {
	n        *notify.Notifier // nil when `run` started without channels
	stdout   io.Writer
	liveness notify.Liveness
	log      *zap.Logger
}

// settings are the notification settings of `run` for cfg.
func (p *notifierPart) settings(cfg *config.Config) (notify.Settings, error) {
	s, err := notifySettings(cfg, p.stdout)
	s.Liveness = p.liveness
	return s, err
}

// Prepare is reload.Component's.
func (p *notifierPart) Prepare(old, next *config.Config) (func(), error) {
	s, err := p.settings(next)
	if err != nil {
		return nil, err
	}
	return func() {
		switch {
		case p.n == nil && len(next.Notify.Channels) > 0:
			p.log.Warn("notification channels were added: they start on restart, with the state file")
		case p.n == nil:
		case next.Notify.StateFile != old.Notify.StateFile:
			p.log.Warn("notify.stateFile changes only on restart", zap.String("stateFile", old.Notify.StateFile))
			p.n.Configure(s)
		default:
			p.n.Configure(s)
		}
	}, nil
}
