package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/purgewatch/purgewatch/internal/config"
)

// The command line is kingpin's, as in the rest of the Prometheus stack: dotted flag names
// (--config.file, --web.listen-address), help that lists a command's own flags only, and -h.

// runFlags are `purgewatch run`'s. Set, each overrides its config key (server.*, log.*) at
// start and at every reload.
type runFlags struct {
	config, webExternalURL, logLevel, logFormat *string
	demo                                        *bool
	web                                         *web.FlagConfig
	listen                                      *[]string // the --listen alias
	lifecycle                                   *bool
	lifecycleSet                                bool
}

// overrides are what the flags set over the configuration file, at start and on each reload.
func (f *runFlags) overrides() config.Overrides {
	o := config.Overrides{WebConfigFile: *f.web.WebConfigFile, ExternalURL: *f.webExternalURL,
		LogLevel: *f.logLevel, LogFormat: *f.logFormat}
	if addrs := f.addresses(nil); len(addrs) > 0 {
		o.Listen = addrs[0]
	}
	if f.lifecycleSet {
		o.EnableLifecycle = f.lifecycle
	}
	return o
}

// addresses are the addresses to listen on: those of the flags, else the configuration's.
func (f *runFlags) addresses(cfg *config.Config) []string {
	var addrs []string
	for _, a := range append(slices.Clone(*f.web.WebListenAddresses), *f.listen...) {
		if a != "" { // the flag's empty default: the configuration decides
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 && cfg != nil {
		addrs = []string{cfg.Server.Listen}
	}
	return addrs
}

// scanFlags are `purgewatch scan`'s and `purgewatch audit`'s.
type scanFlags struct {
	config, output, failOn *string
	demo                   *bool
	failWithin             *time.Duration
}

// notifyFlags are the `purgewatch notify` commands'; each defines the ones it uses.
type notifyFlags struct {
	config, channel, url *string
	demo                 *bool
}

// commandLine is every command and its flags, parsed once.
type commandLine struct {
	app                          *kingpin.Application
	run                          runFlags
	scan, audit                  scanFlags
	recover, purge               actFlags
	silenceAdd, silenceQuery     silenceFlags
	silenceExpire                silenceFlags
	location                     *string
	force                        *bool
	preview, test, outbox, retry notifyFlags
	check                        *string
}

func newCommandLine(stdout io.Writer, terminate func(int)) *commandLine {
	// --version is read before parsing (execute): a kingpin app flag of that name would clash with
	// recover's and purge's --version (the image version's).
	app := kingpin.New("purgewatch", "purgewatch watches Azure Compute Gallery's recycle bin.\n\n  --version  Show the version and build (as `purgewatch version`).").
		UsageWriter(stdout).ErrorWriter(stdout).Terminate(terminate)
	app.HelpFlag.Short('h')
	c := &commandLine{app: app}

	run := app.Command("run", "Scan on a schedule, export metrics, serve the status page and send notifications.")
	c.run.config = configFlag(run, "")
	c.run.demo = run.Flag("demo", "Watch the built-in simulated estate instead of Azure.").Bool()
	// The listen address defaults to server.listen in the configuration (":9772").
	c.run.web = kingpinflag.AddFlags(run, "")
	c.run.listen = run.Flag("listen", "Alias of --web.listen-address.").Hidden().Strings()
	c.run.lifecycle = run.Flag("web.enable-lifecycle", "Enable POST /-/reload, POST /api/v1/outbox/retry and POST/DELETE /api/v1/silences (server.enableLifecycle).").
		IsSetByUser(&c.run.lifecycleSet).Bool()
	c.run.webExternalURL = run.Flag("web.external-url", "The URL under which people reach purgewatch, for links in notifications (server.externalURL).").
		PlaceHolder("URL").String()
	c.run.logLevel = run.Flag("log.level", "Only log messages at or above this level (log.level).").
		PlaceHolder("info").Enum("debug", "info", "warn", "error")
	c.run.logFormat = run.Flag("log.format", "Log format (log.format).").PlaceHolder("json").Enum("json", "logfmt", "console")

	scan := app.Command("scan", "Scan once and print every soft-deleted version, the most urgent first.")
	c.scan.config = configFlag(scan, "")
	c.scan.demo = scan.Flag("demo", "Scan the built-in simulated estate instead of Azure.").Bool()
	c.scan.output = scan.Flag("output", "Output format: table (fits 120 columns), wide (every column) or json.").
		Short('o').Default("table").Enum("table", "wide", "json")
	c.scan.failWithin = durationFlag(scan, "fail-within", 0, "Exit 3 when a version becomes unusable or is purged within this duration (e.g. 24h, 3d, 1w).")

	audit := app.Command("audit", "Audit the galleries: soft delete off, short retention, versions still in use.")
	c.audit.config = configFlag(audit, "")
	c.audit.demo = audit.Flag("demo", "Audit the built-in simulated estate.").Bool()
	c.audit.output = audit.Flag("output", "Output format: table (fits 120 columns), wide (a finding a line) or json.").
		Short('o').Default("table").Enum("table", "wide", "json")
	c.audit.failOn = audit.Flag("fail-on", "Exit 3 when a finding is at least this severe.").PlaceHolder("warning|critical").Enum("warning", "critical")

	recover := app.Command("recover", "Take a soft-deleted version out of the recycle bin.")
	c.recover = newActFlags(recover)
	c.location = recover.Flag("location", "The version's home location for the PUT form (default: its gallery's).").String()
	purge := app.Command("purge", "Delete a soft-deleted version for good, before its retention ends.")
	c.purge = newActFlags(purge)
	c.force = purge.Flag("force", "Purge even when VMs or scale sets are still created from the version.").Bool()

	c.notifyCommands(app.Command("notify", "Preview, test and inspect notifications."))
	c.silenceCommands(app.Command("silence", "Mute the notifications of versions, as Alertmanager's silences do (never the page or the metrics)."))

	check := app.Command("config", "Work with the configuration file.").Command("check", "Check a configuration file and report every problem in it.")
	c.check = configFlag(check, "config.yaml")

	app.Command("version", "Print the version.")
	return c
}

// notifyCommands are `purgewatch notify`'s: preview, test, outbox and retry.
func (c *commandLine) notifyCommands(notify *kingpin.CmdClause) {
	preview := notify.Command("preview", "Print what the channels would send for the current scan, sending nothing.")
	c.preview.config = configFlag(preview, "")
	c.preview.demo = preview.Flag("demo", "Use the built-in simulated estate.").Bool()
	test := notify.Command("test", "Send a test message through one channel.")
	c.test.config = configFlag(test, "")
	c.test.channel = test.Flag("channel", "The channel.").Required().String()
	outbox := notify.Command("outbox", "List what waits to be sent, and the dead letters.")
	c.outbox.config = configFlag(outbox, "")
	c.outbox.channel = outbox.Flag("channel", "Only this channel.").String()
	c.outbox.url = outbox.Flag("url", "The running purgewatch to ask when it holds the state file (default: from server.listen).").String()
	retry := notify.Command("retry", "Send a channel's dead letters again.")
	c.retry.config = configFlag(retry, "")
	c.retry.channel = retry.Flag("channel", "The channel.").Required().String()
	c.retry.url = retry.Flag("url", "The running purgewatch to ask when it holds the state file (default: from server.listen).").String()
}

// configFlag defines --config.file, and --config as the hidden alias scripts already use.
func configFlag(cmd *kingpin.CmdClause, def string) *string {
	help := "Configuration file (default: built-in defaults)."
	if def != "" {
		help = "Configuration file."
	}
	path := cmd.Flag("config.file", help).Default(def).PlaceHolder("FILE").String()
	cmd.Flag("config", "Alias of --config.file.").Hidden().StringVar(path)
	return path
}

// execute parses args and runs the command they name; it returns the exit code. Help asked for
// is output and success; a bad command line is an error on stderr.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer, hooks runHooks) int {
	if len(args) > 0 && args[0] == "--version" {
		args = []string{"version"}
	}
	helpOut := stdout
	if len(args) == 0 { // a script that forgot the command failed: usage, on stderr
		helpOut = stderr
	}
	// kingpin prints help and then calls terminate, expecting it not to return; parsing goes on
	// and may print usage again. The first call decides the exit code; what follows is dropped.
	help := &untilDone{w: helpOut}
	c := newCommandLine(help, func(code int) {
		if !help.done {
			help.done, help.code = true, code
		}
	})
	command, err := c.app.Parse(args)
	switch {
	case len(args) == 0:
		return exitFailed
	case help.done:
		return help.code
	case err != nil:
		fmt.Fprintf(stderr, "purgewatch: %s; try \"%s --help\"\n", err, c.named(args))
		return exitFailed
	}
	switch command {
	case "run":
		return runCommand(ctx, &c.run, stdout, stderr, hooks)
	case "scan":
		return scanCommand(ctx, &c.scan, stdout, stderr)
	case "audit":
		return auditCommand(ctx, &c.audit, stdout, stderr)
	case "recover":
		return recoverCommand(ctx, &c.recover, *c.location, stdout, stderr)
	case "purge":
		return purgeCommand(ctx, &c.purge, *c.force, stdout, stderr)
	case "notify preview", "notify test", "notify outbox", "notify retry":
		f := map[string]*notifyFlags{"notify preview": &c.preview, "notify test": &c.test, "notify outbox": &c.outbox, "notify retry": &c.retry}[command]
		return notifyCommand(ctx, strings.TrimPrefix(command, "notify "), f, stdout, stderr)
	case "silence add", "silence query", "silence expire":
		f := map[string]*silenceFlags{"silence add": &c.silenceAdd, "silence query": &c.silenceQuery, "silence expire": &c.silenceExpire}[command]
		return silenceCommand(ctx, strings.TrimPrefix(command, "silence "), f, stdout, stderr)
	case "config check":
		return configCheckCommand(*c.check, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version.Print("purgewatch"))
		return exitOK
	}
	fmt.Fprintf(stderr, "purgewatch: %q is not a command; try \"purgewatch --help\"\n", command)
	return exitFailed
}

// untilDone writes until done is set.
type untilDone struct {
	w    io.Writer
	done bool
	code int
}

func (u *untilDone) Write(p []byte) (int, error) {
	if u.done {
		return len(p), nil
	}
	return u.w.Write(p)
}

// named is the command args name, as far as it names one: "purgewatch notify".
func (c *commandLine) named(args []string) string {
	name := "purgewatch"
	cmd := c.app.GetCommand(first(args))
	for i := 1; cmd != nil; i++ {
		name += " " + cmd.Model().Name
		cmd = cmd.GetCommand(first(args[i:]))
	}
	return name
}

func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
