package scanner_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// A version's id is built from its names, and versions are sorted by it without building it: the
// order must be exactly the ids' own, where one name is a prefix of another ("img-1", "img-1-x",
// "img-10", "img-1.0") and the separators fall between the bytes compared.
func TestCompareIDsOrdersAsTheIDsDo(t *testing.T) {
	var vs []scanner.Version
	for _, sub := range []string{"a", "a-1", "a1", ""} {
		for _, rg := range []string{"rg", "rg-x", "rg.x", "rgx", "RG"} {
			for _, img := range []string{"img-1", "img-1-x", "img-10", "img-1.0", "img_1", "img"} {
				for _, ver := range []string{"1.0.0", "1.0.0.1", "1.0", "10.0.0", ""} {
					vs = append(vs, scanner.Version{Definition: &scanner.Definition{SubscriptionID: sub, ResourceGroup: rg, Gallery: "g", Image: img},
						Version: ver})
				}
			}
		}
	}
	if got, want := vs[0].ID(), "/subscriptions/a/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/img-1/versions/1.0.0"; got != want {
		t.Fatalf("ID() = %s, want %s", got, want)
	}
	for i := range vs {
		for j := range vs {
			a, b := &vs[i], &vs[j]
			if got, want := scanner.CompareIDs(a, b), strings.Compare(a.ID(), b.ID()); got != want {
				t.Fatalf("CompareIDs(%s, %s) = %d, want %d", a.ID(), b.ID(), got, want)
			}
		}
	}
}

// A version read back from JSON (the state file's open versions and bins, the outbox's events)
// always has a Definition, even when the data names none, and a document's version reads back
// whole: its id and seconds left as well as the version.
func TestDecodedVersionsHaveTheirNames(t *testing.T) {
	var empty scanner.Version
	if err := json.Unmarshal([]byte(`{"version":"1.0.0"}`), &empty); err != nil || empty.Definition == nil {
		t.Fatalf("decoded %+v, %v: no Definition", empty, err)
	}
	_ = empty.Gallery // a promoted name, read without a nil dereference
	v := scanner.Version{Definition: &scanner.Definition{SubscriptionID: "s", ResourceGroup: "rg", Gallery: "g", Image: "i"},
		Version: "1.0.0", Location: "westeurope", PurgeAt: t0.Add(time.Hour), ConsumptionEndsAt: t0, SoftDeletedAt: t0.Add(-time.Hour),
		PurgeAtSource: scanner.SourceComputed}
	doc := scanner.NewDocumentVersion(v, t0)
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back scanner.DocumentVersion
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != v.ID() || back.SecondsUntilPurge != 3600 || back.Gallery != "g" || !back.PurgeAt.Equal(v.PurgeAt) {
		t.Errorf("read back %+v (%+v) from %s", back, back.Definition, data)
	}
	if got := (scanner.Version{Version: "1.0.0"}).ID(); !strings.HasSuffix(got, "/versions/1.0.0") {
		t.Errorf("a version without names has id %q", got)
	}
}
