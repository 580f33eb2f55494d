// Command purgewatch watches Azure Compute Gallery's recycle bin: it finds soft-deleted image
// versions, works out when each is purged, exports that to Prometheus and warns people in time.
package main

import (
	"context"
	"fmt"
	"github.com/prometheus/common/version"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/purgewatch/purgewatch/internal/redact"
)

// Exit codes shared by the commands.
const (
	exitOK       = 0
	exitFailed   = 1 // nothing could be done: bad config, no credentials, nothing reachable
	exitPartial  = 2 // some scopes failed; the rest is printed
	exitDeadline = 3 // --fail-within matched a version; --fail-on matched a finding
)

const usage = `purgewatch watches Azure Compute Gallery's recycle bin.

Usage:
  purgewatch run [--config F] [--demo] [--listen ADDR]
  purgewatch scan [--config F] [--demo] [-o table|wide|json] [--fail-within DURATION]
  purgewatch audit [--config F] [--demo] [-o table|wide|json] [--fail-on warning|critical]
  purgewatch recover ID [--location L] [--dry-run] [--yes] [--wait DURATION] [--config F]
  purgewatch purge ID [--force] [--dry-run] [--yes] [--wait DURATION] [--config F]
  purgewatch notify preview [--config F] [--demo]
  purgewatch notify test --channel NAME [--config F]
  purgewatch notify outbox [--channel NAME] [--config F] [--url URL]
  purgewatch notify retry --channel NAME [--config F] [--url URL]
  purgewatch config check --config F
  purgewatch version

Run "purgewatch COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// secrets are the configuration's secrets, masked in everything the commands write; each
// configuration read adds its own.
var secrets redact.Set

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stdout, stderr = secrets.Writer(stdout), secrets.Writer(stderr)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitFailed
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], stdout, stderr, runHooks{})
	case "scan":
		return scanCommand(ctx, args[1:], stdout, stderr)
	case "notify":
		return notifyCommand(ctx, args[1:], stdout, stderr)
	case "recover":
		return recoverCommand(ctx, args[1:], stdout, stderr)
	case "purge":
		return purgeCommand(ctx, args[1:], stdout, stderr)
	case "audit":
		return auditCommand(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) >= 2 && isHelp(args[1]) {
			fmt.Fprint(stdout, "usage: purgewatch config check --config F\n")
			return exitOK
		}
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, "usage: purgewatch config check --config F\n")
			return exitFailed
		}
		return configCheckCommand(args[2:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, version.Print("purgewatch"))
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "purgewatch: unknown command %q\n\n%s", args[0], usage)
	return exitFailed
}
