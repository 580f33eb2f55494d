// Command purgewatch watches Azure Compute Gallery's recycle bin: it finds soft-deleted image
// versions, works out when each is purged, exports that to Prometheus and warns people in time.
package main

import (
	"context"
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
	return execute(ctx, args, secrets.Writer(stdout), secrets.Writer(stderr), runHooks{})
}
