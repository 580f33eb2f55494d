package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"golang.org/x/term"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/azure"
	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/internal/restore"
	"github.com/purgewatch/purgewatch/scanner"
)

// The terminal the confirmation questions go to; tests replace both.
var (
	stdin           io.Reader = os.Stdin
	stdinIsTerminal           = func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }
)

// actFlags are what recover and purge share: the version, the config, and the confirmation rules.
type actFlags struct {
	name                                                     string
	config                                                   *string
	demo, dryRun, yes                                        *bool
	id, subscription, resourceGroup, gallery, image, version *string
	wait                                                     *time.Duration
}

func newActFlags(cmd *kingpin.CmdClause) actFlags {
	return actFlags{name: cmd.FullCommand(),
		id:            cmd.Arg("id", "The version's ARM id, as `purgewatch scan` prints it.").String(),
		config:        configFlag(cmd, ""),
		demo:          cmd.Flag("demo", "Act on the built-in simulated estate.").Bool(),
		dryRun:        cmd.Flag("dry-run", "Print the request instead of sending it.").Bool(),
		yes:           cmd.Flag("yes", "Do not ask for confirmation.").Bool(),
		subscription:  cmd.Flag("subscription", "The version's subscription id (instead of the id).").String(),
		resourceGroup: cmd.Flag("resource-group", "Its resource group.").String(),
		gallery:       cmd.Flag("gallery", "Its gallery.").String(),
		image:         cmd.Flag("image", "Its image definition.").String(),
		version:       cmd.Flag("version", "The version.").String(),
		wait:          durationFlag(cmd, "wait", 10*time.Minute, "How long the whole command may take, throttling and stalled requests included."),
	}
}

// ref is the version named, by its id or by its parts.
func (a *actFlags) ref() (scanner.VersionRef, error) {
	if *a.id != "" {
		return scanner.ParseVersionID(*a.id)
	}
	ref := scanner.VersionRef{SubscriptionID: strings.ToLower(*a.subscription), ResourceGroup: *a.resourceGroup,
		Gallery: *a.gallery, Image: *a.image, Version: *a.version}
	if ref.SubscriptionID == "" || ref.ResourceGroup == "" || ref.Gallery == "" || ref.Image == "" || ref.Version == "" {
		return ref, errors.New("name the version by its ARM id, as `purgewatch scan` prints it, or by --subscription, --resource-group, --gallery, --image and --version")
	}
	return ref, nil
}

// acting is a version found in the recycle bin, and the means to act on it, within --wait.
type acting struct {
	ref   scanner.VersionRef
	r     *restore.Restorer
	found *scanner.Found
	ctx   context.Context // ends when --wait runs out
	stop  func()
	watch *waiting
}

// failed says why the command stopped: what it was waiting for when --wait ran out, or err.
func (a *acting) failed(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("gave up after --wait %s, waiting for %s", a.watch.limit, a.watch.last())
	}
	return err.Error()
}

// waiting hears of every ARM request of the command and says, as it goes, what holds it up: a
// throttled request (and that it waits as ARM asked), a request that got no answer.
type waiting struct {
	w     io.Writer
	limit time.Duration
	mu    sync.Mutex
	what  string
}

func (wt *waiting) Request(operation string, status int, _ string, _ int) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	wt.what = "ARM to answer " + operation
	if status == 0 {
		fmt.Fprintf(wt.w, "purgewatch: no answer from ARM to %s (stalled or unreachable); trying again within --wait %s\n", operation, wt.limit)
	}
}

func (wt *waiting) Throttled(operation, subscription string) {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	wt.what = "ARM's read budget (throttled: HTTP 429 to " + operation + ")"
	fmt.Fprintf(wt.w, "purgewatch: ARM throttled %s on subscription %s; waiting as it asks, within --wait %s\n", operation, subscription, wt.limit)
}

func (wt *waiting) last() string {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if wt.what == "" {
		return "ARM's first answer"
	}
	return wt.what
}

// begin is what recover and purge do first: read the flags, build the restorer, and make sure
// the version is in the recycle bin, saying where it stands. A nil result means: exit 1.
func (a *actFlags) begin(ctx context.Context, stdout, stderr io.Writer) *acting {
	name := a.name
	ref, err := a.ref()
	if err != nil {
		fmt.Fprintf(stderr, "purgewatch %s: %v\n", name, err)
		return nil
	}
	cfg, stopDemo, err := loadForCommand(*a.config, *a.demo)
	if err != nil {
		printErrors(stderr, err)
		return nil
	}
	watch := &waiting{w: stderr, limit: *a.wait}
	az, err := azure.Connect(cfg, azure.Options{Observer: watch})
	if err != nil {
		stopDemo()
		fmt.Fprintf(stderr, "purgewatch %s: %v\n", name, err)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, *a.wait)
	act := &acting{ref: ref, ctx: ctx, watch: watch, stop: func() { cancel(); stopDemo() },
		r: &restore.Restorer{Pipeline: az.Pipeline, Credential: az.Credential, Scanner: az.Scanner, Progress: stderr, Endpoint: az.Endpoint}}
	if act.found, err = act.r.Check(ctx, ref); err != nil {
		act.stop()
		fmt.Fprintf(stderr, "purgewatch %s: %s\n", name, act.failed(err))
		return nil
	}
	describeVersion(stdout, act.found.InRecycleBin, time.Now())
	return act
}

// confirm asks on a terminal; without one it refuses unless --yes was given.
func confirm(yes bool, stderr io.Writer, question string) error {
	if yes {
		return nil
	}
	if !stdinIsTerminal() {
		return errors.New("standard input is not a terminal, so nobody can confirm: pass --yes")
	}
	fmt.Fprintf(stderr, "%s [y/N] ", question)
	answer, _ := bufio.NewReader(stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("not confirmed; nothing was sent")
	}
	return nil
}

// describe says where a version in the recycle bin stands.
func describeVersion(w io.Writer, v *scanner.Version, now time.Time) {
	fmt.Fprintf(w, "%s is in the recycle bin: soft-deleted %s, usable until %s, purged %s (%s)\n", v.ID(),
		v.SoftDeletedAt.UTC().Format(time.RFC3339), v.ConsumptionEndsAt.UTC().Format(time.RFC3339),
		v.PurgeAt.UTC().Format(time.RFC3339), humantime.Left(v.PurgeAt.Sub(now)))
}

func recoverCommand(ctx context.Context, a *actFlags, location string, stdout, stderr io.Writer) int {
	act := a.begin(ctx, stdout, stderr)
	if act == nil {
		return exitFailed
	}
	defer act.stop()
	ref, r := act.ref, act.r
	loc := location
	if loc == "" {
		loc = act.found.Gallery.Location
	}
	if *a.dryRun {
		fmt.Fprintln(stdout, "would send, trying the second only if the first is refused with a 4xx that is not about authorization:")
		for _, req := range r.Plan(ref, loc) {
			fmt.Fprintf(stdout, "  %s %s\n  %s\n", req.Method, req.URL, req.Body)
		}
		return exitOK
	}
	if err := confirm(*a.yes, stderr, "Recover "+ref.ID()+"?"); err != nil {
		fmt.Fprintln(stderr, "purgewatch recover:", err)
		return exitFailed
	}
	res, err := r.Recover(act.ctx, ref, loc, *a.wait)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch recover:", act.failed(err))
		return exitFailed
	}
	how := string(res.Method)
	if res.FellBack {
		how += " (the PATCH of the REST specification was refused)"
	}
	if !res.Done {
		fmt.Fprintf(stdout, "restore accepted with %s and still running after --wait %s; `purgewatch scan` shows when the version has left the recycle bin\n", how, *a.wait)
		return exitPartial
	}
	fmt.Fprintf(stdout, "recovered %s with %s\n", ref.ID(), how)
	return exitOK
}

func purgeCommand(ctx context.Context, a *actFlags, force bool, stdout, stderr io.Writer) int {
	act := a.begin(ctx, stdout, stderr)
	if act == nil {
		return exitFailed
	}
	defer act.stop()
	ref, r := act.ref, act.r
	inv := r.Scanner.Inventory(act.ctx, []string{ref.SubscriptionID}, nil)
	if len(inv.Errors) > 0 && !force {
		fmt.Fprintf(stderr, "purgewatch purge: cannot tell whether workloads still use the version (%s: %s); --force purges anyway\n", inv.Errors[0].Scope, inv.Errors[0].Message)
		return exitFailed
	}
	var users []string
	for _, w := range audit.UsersOf(inv, ref.ID()) {
		users = append(users, w.ID)
	}
	if len(users) > 0 && !force {
		fmt.Fprintf(stderr, "purgewatch purge: refusing: still used by %s; once purged they can never be re-created or scaled out. --force purges anyway\n", strings.Join(users, ", "))
		return exitFailed
	}
	if *a.dryRun {
		fmt.Fprintf(stdout, "would send:\n  DELETE %s%s?api-version=%s\n", strings.TrimSuffix(r.Endpoint, "/"), restore.PurgePath(ref), restore.PurgeAPIVersion)
		return exitOK
	}
	if err := confirm(*a.yes, stderr, "Purge "+ref.ID()+" for good? Nothing can bring it back."); err != nil {
		fmt.Fprintln(stderr, "purgewatch purge:", err)
		return exitFailed
	}
	if err := r.Purge(act.ctx, ref); err != nil {
		fmt.Fprintln(stderr, "purgewatch purge:", act.failed(err))
		return exitFailed
	}
	fmt.Fprintf(stdout, "purged %s\n", ref.ID())
	return exitOK
}
