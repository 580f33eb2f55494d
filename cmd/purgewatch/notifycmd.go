package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/notify"
	"github.com/purgewatch/purgewatch/scanner"
)

// notifyCommand runs `notify preview`, `notify test`, `notify outbox` or `notify retry`; f holds
// the flags that one defines, the others nil.
func notifyCommand(ctx context.Context, sub string, f *notifyFlags, stdout, stderr io.Writer) int {
	demo, channel, url := false, "", ""
	if f.demo != nil {
		demo = *f.demo
	}
	if f.channel != nil {
		channel = *f.channel
	}
	if f.url != nil {
		url = *f.url
	}
	cfg, stop, err := loadForCommand(*f.config, demo)
	if err != nil {
		printErrors(stderr, err)
		return exitFailed
	}
	defer stop()
	switch sub {
	case "outbox":
		return outboxCommand(ctx, cfg, channel, url, stdout, stderr)
	case "retry":
		return retryCommand(ctx, cfg, channel, url, stdout, stderr)
	}
	s, err := notify.SettingsFor(cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	if sub == "test" {
		return notifyTest(ctx, s, channel, stdout, stderr)
	}
	return notifyPreview(ctx, cfg, s, stdout, stderr)
}

// notifyPreview prints what each channel would be sent for the estate as it is now: the stages
// `run` runs before queuing, with the audit's workloads when the audit is on, deduplicated
// against the state file when it can be read. Nothing is sent or recorded.
func notifyPreview(ctx context.Context, cfg *config.Config, s notify.Settings, stdout, stderr io.Writer) int {
	if len(s.Channels) == 0 {
		fmt.Fprintln(stderr, "purgewatch: no notification channels are configured (notify.channels)")
		return exitFailed
	}
	sc, snap, err := scanOnce(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	now := time.Now()
	var users map[string][]scanner.Workload
	var facts triage.Facts
	if cfg.Audit.Enabled { // as the daemon does: the audit says which workloads still use a version
		report, _ := audit.Run(ctx, sc, snap, cfg.Audit.MinRetentionDays, now)
		users, facts = report.References, report.Facts
	}
	triage.Mark(snap, facts, cfg.Notify.Expected)
	var told notify.Ledger // nil: as if nothing had been sent yet
	var silences []silence.Silence
	file, err := state.OpenReadOnly(cfg.Notify.StateFile)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "purgewatch: %v; showing what a channel that has been told nothing would be sent\n", err)
	case file == nil:
		fmt.Fprintf(stderr, "purgewatch: no state file yet at %s: every event is new\n", cfg.Notify.StateFile)
	default:
		defer file.Close()
		told = file
		if silences, err = silence.NewStore(file).List(); err != nil {
			fmt.Fprintf(stderr, "purgewatch: %v\n", err)
		}
	}
	previews, err := notify.PreviewAll(snap, users, s, now, told, silences)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	for _, p := range previews {
		fmt.Fprintf(stdout, "==> %s (%s): %s, %s", p.Channel.Name(), p.Channel.Type(), humantime.Count(p.Events, "event"), p.ContentType)
		if p.Subject != "" {
			fmt.Fprintf(stdout, ", subject %q", p.Subject)
		}
		fmt.Fprintf(stdout, "\n%s\n\n", p.Body)
	}
	if len(previews) == 0 {
		fmt.Fprintln(stdout, "nothing to announce: no version is within a threshold or unusable that was not announced already")
	}
	writeSummary(stderr, snap)
	return exitOK
}

// notifyTest sends a sample warning through one channel and reports what it answered.
func notifyTest(ctx context.Context, s notify.Settings, name string, stdout, stderr io.Writer) int {
	for _, ch := range s.Channels {
		if ch.Name() != name {
			continue
		}
		now := time.Now()
		m := notify.Message{Channel: name, Events: []notify.Event{notify.Sample(now)}, Now: now, ARMEndpoint: s.ARMEndpoint}
		if err := ch.Send(ctx, m); err != nil {
			fmt.Fprintf(stderr, "purgewatch: %s (%s) refused the sample: %s\n", name, ch.Type(), printable(err.Error()))
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s (%s) accepted the sample notification\n", name, ch.Type())
		return exitOK
	}
	fmt.Fprintf(stderr, "purgewatch: no channel named %q (notify.channels)\n", name)
	return exitFailed
}

// outboxCommand lists what waits and what was refused for good, from the state file, or from the
// running purgewatch that holds it.
func outboxCommand(ctx context.Context, cfg *config.Config, channel, url string, stdout, stderr io.Writer) int {
	var letters []notify.Letter
	file, err := state.OpenReadOnly(cfg.Notify.StateFile)
	switch {
	case errors.Is(err, state.ErrHeld):
		letters, err = daemonLetters(ctx, daemonURL(cfg, url), channel)
	case err == nil && file != nil:
		letters, err = notify.ReadLetters(file, channel)
		_ = file.Close()
	}
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	writeLetters(stdout, letters)
	return exitOK
}

// retryCommand queues a channel's dead letters again.
func retryCommand(ctx context.Context, cfg *config.Config, channel, url string, stdout, stderr io.Writer) int {
	if !slices.ContainsFunc(cfg.Notify.Channels, func(c config.Channel) bool { return c.Name == channel }) {
		fmt.Fprintf(stderr, "purgewatch: no channel named %q (notify.channels)\n", channel)
		return exitFailed
	}
	var moved int
	file, err := state.Open(cfg.Notify.StateFile)
	switch {
	case errors.Is(err, state.ErrHeld):
		moved, err = daemonRetry(ctx, daemonURL(cfg, url), channel)
	case err == nil:
		moved, err = file.Requeue(channel, time.Now())
		_ = file.Close()
	}
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "queued %d dead letter(s) of %s again\n", moved, channel)
	return exitOK
}

func writeLetters(w io.Writer, letters []notify.Letter) {
	if len(letters) == 0 {
		fmt.Fprintln(w, "nothing waits and nothing was refused")
		return
	}
	fmt.Fprintf(w, "%-16s %-8s %6s %8s  %-20s  %s\n", "CHANNEL", "STATE", "EVENTS", "ATTEMPTS", "WHEN", "LAST ERROR · ABOUT")
	for _, l := range letters {
		when := l.NextAttempt
		if l.State == notify.LetterDead {
			when = l.DeadSince
		}
		why := l.LastError
		if l.State == notify.LetterDead && l.Status != 0 {
			why = fmt.Sprintf("HTTP %d: %s", l.Status, l.Answer)
		}
		fmt.Fprintf(w, "%-16s %-8s %6d %8d  %-20s  %s · %s\n", l.Channel, l.State, l.Events, l.Attempts,
			when.UTC().Format("2006-01-02 15:04 UTC"), printable(orDash(why)), printable(strings.Join(l.Versions, ", ")))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
