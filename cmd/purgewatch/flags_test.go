package main

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/purgewatch/purgewatch/internal/config"
)

// -h and --help are output and success, on every command, and list that command's flags only.
func TestHelpIsOutputAndSuccess(t *testing.T) {
	for _, c := range []struct {
		args    []string
		has     []string
		hasNot  []string
		usageOf string
	}{
		{[]string{"run", "--help"}, []string{"--web.listen-address=", "--web.config.file=", "--config.file=", "--log.level=", "--log.format=",
			"--[no-]web.enable-lifecycle", "--web.external-url=", "--[no-]demo"}, []string{"--channel", "--fail-within", "--listen", "--config"}, "run [<flags>]"},
		{[]string{"-h"}, []string{"--version"}, nil, "<command>"},
		{[]string{"scan", "-h"}, []string{"--fail-within=DURATION", "-o, --output="}, []string{"--web.listen-address", "--channel"}, "scan [<flags>]"},
		{[]string{"audit", "--help"}, []string{"--fail-on="}, []string{"--fail-within"}, "audit [<flags>]"},
		{[]string{"recover", "--help"}, []string{"--location=", "--wait=", "--[no-]dry-run", "[<id>]"}, []string{"--force"}, "recover [<flags>] [<id>]"},
		{[]string{"purge", "-h"}, []string{"--[no-]force", "--wait="}, []string{"--location"}, "purge [<flags>] [<id>]"},
		{[]string{"notify", "preview", "--help"}, []string{"--[no-]demo"}, []string{"--channel", "--url"}, "notify preview [<flags>]"},
		{[]string{"notify", "test", "--help"}, []string{"--channel="}, []string{"--demo", "--url"}, "notify test --channel=CHANNEL"},
		{[]string{"notify", "outbox", "-h"}, []string{"--channel=", "--url="}, []string{"--demo"}, "notify outbox [<flags>]"},
		{[]string{"config", "check", "--help"}, []string{"--config.file=FILE"}, []string{"--demo"}, "config check [<flags>]"},
		{[]string{"notify", "--help"}, []string{"notify preview"}, nil, "notify <command>"},
		{[]string{"config", "-h"}, []string{"config check"}, nil, "config <command>"},
		{[]string{"--help"}, []string{"run [<flags>]", "notify retry"}, nil, "<command>"},
		{[]string{"help", "scan"}, []string{"--fail-within"}, []string{"--web.listen-address"}, "scan [<flags>]"},
	} {
		code, stdout, stderr := runCmd(t, c.args...)
		name := strings.Join(c.args, " ")
		if code != exitOK || stderr != "" {
			t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", name, code, stderr)
		}
		if !strings.HasPrefix(stdout, "usage: purgewatch "+c.usageOf) || strings.Count(stdout, "usage:") != 1 {
			t.Errorf("%s: help starts %q", name, strings.SplitN(stdout, "\n", 2)[0])
		}
		for _, want := range c.has {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: help lacks %s:\n%s", name, want, stdout)
			}
		}
		for _, not := range c.hasNot {
			if strings.Contains(stdout, not+"=") || strings.Contains(stdout, not+" ") || strings.Contains(stdout, "]"+strings.TrimPrefix(not, "--")+" ") {
				t.Errorf("%s: help lists %s, a flag the command does not use", name, not)
			}
		}
	}
	// A flag a command does not take is an error, on stderr, that says where help is.
	for args, want := range map[string]string{
		"scan --channel x":               `purgewatch: unknown long flag '--channel'; try "purgewatch scan --help"`,
		"notify":                         `purgewatch: must select a subcommand of 'notify'; try "purgewatch notify --help"`,
		"notify test":                    `purgewatch: required flag(s) '--channel' not provided; try "purgewatch notify test --help"`,
		"scan -o yaml":                   `purgewatch: enum value must be one of table,wide,json, got 'yaml'; try "purgewatch scan --help"`,
		"scan --fail-within 3 days":      `purgewatch: unexpected days; try "purgewatch scan --help"`,
		"run --web.external-url /status": `purgewatch: --web.external-url: "/status" is not an absolute http(s) URL such as https://purgewatch.example.com/`,
		"audit --fail-on bad":            `purgewatch: enum value must be one of warning,critical, got 'bad'; try "purgewatch audit --help"`,
	} {
		code, stdout, stderr := runCmd(t, strings.Fields(args)...)
		if code != exitFailed || stdout != "" || strings.TrimSpace(stderr) != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and %q", args, code, stdout, stderr, want)
		}
	}
	// No command at all: the usage, on stderr, and failure.
	if code, stdout, stderr := runCmd(t); code != exitFailed || stdout != "" || !strings.Contains(stderr, "usage: purgewatch <command>") {
		t.Errorf("no command: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestTheDemoIsForThisMachine: left at the default address the demo listens on loopback alone,
// and says where its page is; told an address, it listens there.
func TestTheDemoIsForThisMachine(t *testing.T) {
	demo, none, def := true, []string{}, config.Default()
	f := &runFlags{demo: &demo, listen: &none, web: &web.FlagConfig{WebListenAddresses: &none}}
	if got := listenAddresses(f, &def); !slices.Equal(got, []string{"127.0.0.1:9772"}) {
		t.Errorf("the demo listens on %v, want 127.0.0.1:9772", got)
	}
	told := []string{":8080"}
	f.web.WebListenAddresses = &told
	if got := listenAddresses(f, &def); !slices.Equal(got, told) {
		t.Errorf("told :8080, the demo listens on %v", got)
	}
	for addr, want := range map[string]string{"[::]:9772": "127.0.0.1:9772", "0.0.0.0:9772": "127.0.0.1:9772", "127.0.0.1:4000": "127.0.0.1:4000"} {
		a, _ := net.ResolveTCPAddr("tcp", addr)
		if got := browsable(a); got != want {
			t.Errorf("browsable(%s) = %s, want %s", addr, got, want)
		}
	}
	d := startDaemon(t, "--demo")
	if want := "purgewatch --demo: open " + d.base + "/ "; !strings.Contains(d.logs.String(), want) {
		t.Errorf("the demo does not say %q:\n%s", want, d.logs.String())
	}
}
