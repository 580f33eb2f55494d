package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/scanner"
)

func auditCommand(ctx context.Context, f *scanFlags, stdout, stderr io.Writer) int {
	output, threshold := f.output, audit.Severity(*f.failOn)
	cfg, stop, err := loadForCommand(*f.config, *f.demo)
	if err != nil {
		printErrors(stderr, err)
		return exitFailed
	}
	defer stop()
	s, snap, err := scanOnce(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch audit:", err)
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Scan.Timeout)
	defer cancel()
	report, invErrs := audit.Run(ctx, s, snap, cfg.Audit.MinRetentionDays, time.Now())
	errs := append(append([]scanner.ScopeError{}, snap.Errors...), invErrs...) // never null in JSON

	writeFindings(stdout, *output, report.Findings, errs)
	fmt.Fprintf(stderr, "%d findings (worst: %s); %d failed scopes\n", len(report.Findings), orNone(report.Worst()), len(errs))
	for _, e := range errs {
		fmt.Fprintf(stderr, "  failed: %s: %s: %s\n", printable(e.Scope), printable(e.Code), printable(e.Message))
	}
	switch {
	case threshold != "" && report.Worst().Rank() >= threshold.Rank():
		return exitDeadline
	case snap.Failed():
		return exitFailed
	case len(errs) > 0:
		return exitPartial
	}
	return exitOK
}

func orNone(s audit.Severity) string {
	if s == "" {
		return "none"
	}
	return string(s)
}

// writeFindings prints the audit's findings as --output asks: json, table (a block a finding),
// or wide (one line a finding).
func writeFindings(stdout io.Writer, output string, findings []audit.Finding, errs []scanner.ScopeError) {
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if findings == nil {
			findings = []audit.Finding{}
		}
		_ = enc.Encode(struct {
			Findings []audit.Finding      `json:"findings"`
			Errors   []scanner.ScopeError `json:"errors"`
		}{findings, errs})
	} else if output == "table" {
		// A finding is a block, its resource id on a line of its own: the ids alone pass 120
		// columns, and a table of them is unreadable in a terminal.
		for i, f := range findings {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			fmt.Fprintf(stdout, "%-8s  %s\n", f.Severity, f.Check)
			wrapped(stdout, "  resource  ", f.ID)
			wrapped(stdout, "  finding   ", f.Message)
			wrapped(stdout, "  do        ", f.Action)
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tCHECK\tRESOURCE\tFINDING\tWHAT TO DO")
		for _, f := range findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Check, printable(f.ID), printable(f.Message), printable(f.Action))
		}
		_ = tw.Flush()
	}
}
