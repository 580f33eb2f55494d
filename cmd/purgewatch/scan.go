package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"

	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/scanner"
)

func scanCommand(ctx context.Context, f *scanFlags, stdout, stderr io.Writer) int {
	output, failWithin := f.output, f.failWithin
	cfg, stop, err := loadForCommand(*f.config, *f.demo)
	if err != nil {
		printErrors(stderr, err)
		return exitFailed
	}
	defer stop()
	_, snap, err := scanOnce(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	now := time.Now()
	if *output == "json" { // streamed: the document is never built whole beside the snapshot
		if err := snap.WriteDocument(stdout, now); err != nil {
			fmt.Fprintln(stderr, "purgewatch:", err)
			return exitFailed
		}
	} else {
		writeTable(stdout, snap, now, *output == "wide")
	}
	writeSummary(stderr, snap)
	return scanExitCode(snap, now, *failWithin, stderr)
}

// scanExitCode is 3 when a version's next deadline falls within failWithin, naming each such
// version on stderr (a pipeline's log then says which), else the scan's own outcome.
func scanExitCode(snap *scanner.Snapshot, now time.Time, failWithin time.Duration, stderr io.Writer) int {
	if failWithin > 0 {
		var matched []scanner.Version
		for _, v := range scanner.ByNextDeadline(snap.Versions, now) {
			if _, at := v.NextDeadline(now); at.Sub(now) <= failWithin {
				matched = append(matched, v)
			}
		}
		if len(matched) > 0 {
			fmt.Fprintf(stderr, "--fail-within %s: %s\n", model.Duration(failWithin), humantime.Count(len(matched), "version"))
			for _, v := range matched {
				fmt.Fprintf(stderr, "  %s: %s\n", printable(v.ID()), nextDeadline(v, now))
			}
			return exitDeadline
		}
	}
	switch {
	case snap.Failed():
		return exitFailed
	case snap.Partial():
		return exitPartial
	}
	return exitOK
}

// writeTable writes the versions, soonest deadline first. The default columns fit a 120-column
// terminal; wide adds the resource group, the subscription and where the purge time came from
// (`scan -o json` and the status page have every id).
func writeTable(w io.Writer, snap *scanner.Snapshot, now time.Time, wide bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "NEXT DEADLINE\tPURGE AT (UTC)\tSTATE\tGALLERY/IMAGE/VERSION\tLOCATION"
	if wide {
		head += "\tRESOURCE GROUP\tSUBSCRIPTION\tSOURCE\tDELETED BY"
	}
	fmt.Fprintln(tw, head)
	for _, v := range scanner.ByNextDeadline(snap.Versions, now) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s/%s\t%s", nextDeadline(v, now), v.PurgeAt.UTC().Format("2006-01-02 15:04"),
			v.State(now), printable(v.Gallery), printable(v.Image), printable(v.Version), printable(v.Location))
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s", printable(v.ResourceGroup), printable(v.SubscriptionID), v.PurgeAtSource, printable(deletedBy(v, now)))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// nextDeadline says what happens next and when: "unusable in 12h 0m" before a consumption end
// that comes first, "purged in 3d 2h" after.
func nextDeadline(v scanner.Version, now time.Time) string {
	d, at := v.NextDeadline(now)
	switch {
	case d == scanner.DeadlineConsumptionEnd:
		return "unusable in " + humantime.Left(at.Sub(now))
	case at.Before(now):
		return "purge " + humantime.Left(at.Sub(now))
	}
	return "purged in " + humantime.Left(at.Sub(now))
}

// deletedBy is the wide table's last column: who and when, or why that is not known.
func deletedBy(v scanner.Version, now time.Time) string {
	if s := deleters.Describe(v, now); s != "" {
		return strings.TrimPrefix(s, "deleted by ")
	}
	return "-"
}

func writeSummary(w io.Writer, snap *scanner.Snapshot) {
	st := snap.Stats
	fmt.Fprintf(w, "scanned %d subscriptions, %d galleries, %d image definitions: %d soft-deleted versions; %d ARM requests (%d throttled); %d failed scopes; took %s\n",
		st.Subscriptions, st.Galleries, st.Images, st.Versions, st.Requests, st.Throttled, len(snap.Errors), snap.Duration.Round(time.Millisecond))
	var advice []string
	for _, e := range snap.Errors {
		fmt.Fprintf(w, "  failed: %s: %s: %s\n", printable(e.Scope), printable(e.Code), printable(e.Message))
		if a := e.Advice(); !slices.Contains(advice, a) {
			advice = append(advice, a)
		}
	}
	for _, a := range advice {
		fmt.Fprintf(w, "  what to do: %s\n", a)
	}
	if snap.Failed() {
		fmt.Fprintln(w, "nothing could be read: this is not an empty estate")
	}
}
