package metrics

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/purgewatch/purgewatch/scanner"
)

// readmeMetrics reads the README's metrics table: each family's type and label cell ("same"
// resolved to the row above).
func readmeMetrics(t *testing.T) map[string][2]string {
	t.Helper()
	data, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][2]string{}
	prev := ""
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`purgewatch_") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		labels := strings.TrimSpace(cells[3])
		if labels == "same" {
			labels = prev
		}
		prev = labels
		rows[name] = [2]string{strings.TrimSpace(cells[2]), labels}
	}
	if len(rows) == 0 {
		t.Fatal("docs/metrics.md has no metrics table")
	}
	return rows
}

// TestTheDocsDocumentEverySnapshotFamily: a family added to the table, renamed or relabelled
// shows up in the README's table, or this fails; and the README lists no snapshot family the
// table lacks.
func TestTheDocsDocumentEverySnapshotFamily(t *testing.T) {
	rows := readmeMetrics(t)
	names := map[string]bool{}
	for _, f := range snapshotFamilies {
		names[f.name] = true
		row, ok := rows[f.name]
		switch {
		case !ok:
			t.Errorf("docs/metrics.md's metrics table lacks %s", f.name)
		case row[0] != "gauge":
			t.Errorf("docs/metrics.md says %s is a %s; it is a gauge", f.name, row[0])
		case !strings.HasPrefix(row[1], strings.Join(f.labels, ", ")):
			t.Errorf("docs/metrics.md gives %s the labels %q; they are %s", f.name, row[1], strings.Join(f.labels, ", "))
		}
	}
	for name := range rows {
		if (strings.HasPrefix(name, "purgewatch_gallery_") || strings.HasPrefix(name, "purgewatch_soft_deleted_version")) && !names[name] {
			t.Errorf("docs/metrics.md documents %s, which snapshotFamilies does not declare", name)
		}
	}
}

// TestSnapshotFamiliesAreWrittenByName: the registry writes its families by name, and so does
// the rendered part; the fast label writer agrees with the table's label names.
func TestSnapshotFamiliesAreWrittenByName(t *testing.T) {
	if !slices.IsSortedFunc(snapshotFamilies, func(a, b snapshotFamily) int { return strings.Compare(a.name, b.name) }) {
		t.Error("snapshotFamilies are not in name order")
	}
	v := scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: `i"1`}, Version: "1.0.0", Location: "westus"}
	if got, want := string(appendVersionLabels(nil, &v)), labelSet(versionLabelNames, versionValues(&v)); got != want {
		t.Errorf("appendVersionLabels = %s, labelSet of versionLabelNames = %s", got, want)
	}
}
