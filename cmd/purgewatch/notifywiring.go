package main

import (
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/reload"
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

// daemonSettings are the notification settings of `run`: the channels, and the scanner of cfg
// to ask whether a version that left the bin was recovered.
func daemonSettings(cfg *config.Config, stdout io.Writer, scanners *scannerSet) (notify.Settings, error) {
	s, err := notifySettings(cfg, stdout)
	if err != nil {
		return s, err
	}
	live, err := scanners.For(cfg)
	if err != nil {
		return s, err
	}
	s.Liveness = live
	return s, nil
}

// startNotifier opens the notification log and builds the notifier; nil when no channel is set.
func startNotifier(cfg *config.Config, reg prometheus.Registerer, stdout io.Writer, scanners *scannerSet, log *zap.Logger) (*notify.Notifier, *notify.Store, error) {
	if len(cfg.Notify.Channels) == 0 {
		return nil, nil, nil
	}
	s, err := daemonSettings(cfg, stdout, scanners)
	if err != nil {
		return nil, nil, err
	}
	store, err := notify.OpenStore(cfg.Notify.StateFile)
	if err != nil {
		return nil, nil, err
	}
	return notify.New(store, s, nil, log, notify.NewMetrics(reg)), store, nil
}

// notifierPart is the notifier's part of a reload: the channels are built first, so a channel
// that cannot be built refuses the whole reload; a notifier that does not exist (no channel at
// start) or a changed state file waits for a restart, and says so.
func notifierPart(n *notify.Notifier, stdout io.Writer, scanners *scannerSet, log *zap.Logger) reload.Component {
	return reload.Func(func(old, next *config.Config) (func(), error) {
		s, err := daemonSettings(next, stdout, scanners)
		if err != nil {
			return nil, err
		}
		return func() {
			switch {
			case n == nil && len(next.Notify.Channels) > 0:
				log.Warn("notification channels were added: they start on restart, with the state file")
			case n == nil:
			case next.Notify.StateFile != old.Notify.StateFile:
				log.Warn("notify.stateFile changes only on restart", zap.String("stateFile", old.Notify.StateFile))
				n.Configure(s)
			default:
				n.Configure(s)
			}
		}, nil
	})
}
