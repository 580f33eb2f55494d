package main

import (
	"strings"
	"testing"
)

// -h and --help are output and success, on every command, and list that command's flags only.
func TestHelpIsOutputAndSuccess(t *testing.T) {
	for _, c := range []struct {
		args    []string
		has     []string
		hasNot  []string
		usageOf string
	}{
		{[]string{"run", "--help"}, []string{"-listen", "-demo"}, []string{"-channel", "-fail-within"}, "run"},
		{[]string{"scan", "-h"}, []string{"-fail-within", "-o "}, []string{"-listen", "-channel"}, "scan"},
		{[]string{"audit", "--help"}, []string{"-fail-on"}, []string{"-fail-within"}, "audit"},
		{[]string{"recover", "--help"}, []string{"-location", "-wait", "-dry-run"}, []string{"-force"}, "recover ID"},
		{[]string{"purge", "-h"}, []string{"-force", "-wait"}, []string{"-location"}, "purge ID"},
		{[]string{"notify", "preview", "--help"}, []string{"-demo"}, []string{"-channel", "-url"}, "notify preview"},
		{[]string{"notify", "test", "--help"}, []string{"-channel"}, []string{"-demo", "-url"}, "notify test"},
		{[]string{"notify", "outbox", "-h"}, []string{"-channel", "-url"}, []string{"-demo"}, "notify outbox"},
		{[]string{"config", "check", "--help"}, []string{"-config"}, []string{"-demo"}, "config check"},
		{[]string{"notify", "--help"}, []string{"notify preview"}, nil, ""},
		{[]string{"config", "-h"}, []string{"config check"}, nil, ""},
		{[]string{"--help"}, []string{"purgewatch run"}, nil, ""},
	} {
		code, stdout, stderr := runCmd(t, c.args...)
		name := strings.Join(c.args, " ")
		if code != exitOK || stderr != "" {
			t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", name, code, stderr)
		}
		if c.usageOf != "" && !strings.HasPrefix(stdout, "usage: purgewatch "+c.usageOf+" [flags]") {
			t.Errorf("%s: help starts %q", name, strings.SplitN(stdout, "\n", 2)[0])
		}
		for _, want := range c.has {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: help lacks %s:\n%s", name, want, stdout)
			}
		}
		for _, not := range c.hasNot {
			if strings.Contains(stdout, not+" ") || strings.Contains(stdout, not+"\n") {
				t.Errorf("%s: help lists %s, a flag the command does not use", name, not)
			}
		}
	}
	// A flag a command does not take is an error, on stderr.
	if code, stdout, stderr := runCmd(t, "scan", "--channel", "x"); code != exitFailed || stdout != "" ||
		!strings.Contains(stderr, "flag provided but not defined: -channel") || !strings.Contains(stderr, "usage: purgewatch scan") {
		t.Errorf("scan --channel: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
