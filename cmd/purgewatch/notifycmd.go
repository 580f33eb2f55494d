package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/notify"
)

func notifyCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "preview" && args[0] != "test") {
		fmt.Fprint(stderr, "usage: purgewatch notify preview [--config F] [--demo]\n       purgewatch notify test --channel NAME [--config F]\n")
		return exitFailed
	}
	fs := flag.NewFlagSet("notify "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: built-in defaults)")
	demo := fs.Bool("demo", false, "use the built-in simulated estate (preview)")
	channel := fs.String("channel", "", "the channel to send a sample to (test)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitFailed
	}
	cfg, stop, err := loadForCommand(*cfgPath, *demo)
	if err != nil {
		printErrors(stderr, err)
		return exitFailed
	}
	defer stop()
	s, err := notifySettings(cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	if args[0] == "test" {
		return notifyTest(ctx, s, *channel, stdout, stderr)
	}
	return notifyPreview(ctx, cfg, s, stdout, stderr)
}

// notifyPreview prints what each channel would be sent for the estate as it is now, if it had
// been told nothing yet. Nothing is sent or recorded.
func notifyPreview(ctx context.Context, cfg *config.Config, s notify.Settings, stdout, stderr io.Writer) int {
	if len(s.Channels) == 0 {
		fmt.Fprintln(stderr, "purgewatch: no notification channels are configured (notify.channels)")
		return exitFailed
	}
	_, snap, err := scanOnce(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	previews, err := notify.PreviewAll(snap, s, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	for _, p := range previews {
		fmt.Fprintf(stdout, "==> %s (%s): %d events, %s", p.Channel.Name(), p.Channel.Type(), p.Events, p.ContentType)
		if p.Subject != "" {
			fmt.Fprintf(stdout, ", subject %q", p.Subject)
		}
		fmt.Fprintf(stdout, "\n%s\n\n", p.Body)
	}
	if len(previews) == 0 {
		fmt.Fprintln(stdout, "nothing to announce: no version is within a threshold or unusable")
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
			fmt.Fprintf(stderr, "purgewatch: %s (%s) refused the sample: %v\n", name, ch.Type(), err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "%s (%s) accepted the sample notification\n", name, ch.Type())
		return exitOK
	}
	fmt.Fprintf(stderr, "purgewatch: no channel named %q (notify.channels)\n", name)
	return exitFailed
}
