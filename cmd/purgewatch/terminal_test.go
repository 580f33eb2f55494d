package main

import (
	"strings"
	"testing"
)

// The terminal tables of scan and audit fit 120 columns; only an ARM id, which must stay whole to
// be copied, may pass it, on a line of its own. -o wide has every column.
func TestTablesFitATerminal(t *testing.T) {
	for _, args := range [][]string{{"scan", "--demo"}, {"audit", "--demo"}} {
		_, out, stderr := runCmd(t, args...)
		if out == "" {
			t.Fatalf("%v wrote nothing: %s", args, stderr)
		}
		for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			if len(line) <= terminalWidth {
				continue
			}
			words := strings.Fields(line)
			id := strings.Trim(words[len(words)-1], "()")
			if !strings.HasPrefix(id, "/subscriptions/") || len(words) > 2 || (len(words) == 2 && len(words[0]) > 10) {
				t.Errorf("%v: a line of %d columns: %q", args, len(line), line)
			}
		}
	}
	_, scanWide, _ := runCmd(t, "scan", "--demo", "-o", "wide")
	_, scanTable, _ := runCmd(t, "scan", "--demo")
	if !strings.Contains(scanWide, "SUBSCRIPTION") || !strings.Contains(scanWide, "1f0c3a52-6d0e-4b8e-9a51-2a7c3e5d9b01") || strings.Contains(scanTable, "SUBSCRIPTION") {
		t.Errorf("-o wide must add the subscription column, and the table leave it out:\n%s", scanWide)
	}
	_, auditWide, _ := runCmd(t, "audit", "--demo", "-o", "wide")
	if !strings.HasPrefix(auditWide, "SEVERITY  CHECK") {
		t.Errorf("audit -o wide starts %q", strings.SplitN(auditWide, "\n", 2)[0])
	}
}

func TestWrappedBreaksAtSpacesAndKeepsIdsWhole(t *testing.T) {
	var b strings.Builder
	id := "/subscriptions/" + strings.Repeat("x", 130)
	wrapped(&b, "  do        ", strings.Repeat("word ", 30)+"recover ("+id+") now")
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for i, l := range lines {
		if len(l) > terminalWidth && strings.TrimSpace(l) != "("+id+")" {
			t.Errorf("line %d is %d columns: %q", i, len(l), l)
		}
		if i > 0 && !strings.HasPrefix(l, strings.Repeat(" ", 12)) {
			t.Errorf("line %d is not indented under the first: %q", i, l)
		}
	}
	if !strings.Contains(b.String(), "\n            ("+id+")\n") {
		t.Errorf("the id is not whole on a line of its own:\n%s", b.String())
	}
}
