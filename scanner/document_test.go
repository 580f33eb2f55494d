package scanner_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// The streamed document is byte for byte what encoding/json makes of Document, with and without
// versions.
func TestWriteDocumentStreamsWhatDocumentBuilds(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	snap := scan(t, h)
	var streamed, built bytes.Buffer
	if err := snap.WriteDocument(&streamed, t0); err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(&built)
	enc.SetIndent("", "  ")
	if err := enc.Encode(snap.DocumentOf(snap.Versions, t0)); err != nil {
		t.Fatal(err)
	}
	if streamed.String() != built.String() {
		t.Errorf("streamed:\n%s\nbuilt:\n%s", streamed.String(), built.String())
	}
	empty := *snap
	empty.Versions, empty.Galleries, empty.Errors = nil, nil, nil
	streamed.Reset()
	built.Reset()
	_ = empty.WriteDocument(&streamed, t0)
	_ = enc.Encode(empty.DocumentOf(empty.Versions, t0))
	if streamed.String() != built.String() {
		t.Errorf("empty, streamed:\n%s\nbuilt:\n%s", streamed.String(), built.String())
	}
}

// A page of the document (the API's) is what encoding/json makes of the document with those
// versions and the page's own members after it.
func TestWriteDocumentOfAddsThePagesMembers(t *testing.T) {
	h := newHarness(t, twoSubscriptions(), harnessOpts{})
	snap := scan(t, h)
	more := struct {
		Total    int    `json:"total"`
		Continue string `json:"continue,omitempty"`
	}{len(snap.Versions), "next"}
	var streamed, built bytes.Buffer
	if err := snap.WriteDocumentOf(&streamed, snap.Versions[1:2], t0, more); err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(&built)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		scanner.Document
		Total    int    `json:"total"`
		Continue string `json:"continue,omitempty"`
	}{snap.DocumentOf(snap.Versions[1:2], t0), more.Total, more.Continue}); err != nil {
		t.Fatal(err)
	}
	if streamed.String() != built.String() {
		t.Errorf("streamed:\n%s\nbuilt:\n%s", streamed.String(), built.String())
	}
	if err := snap.WriteDocumentOf(io.Discard, nil, t0, []int{1}); err == nil {
		t.Error("members that are not an object were written")
	}
}

// BenchmarkDocument compares the JSON of `scan -o json` built whole (as before) with streamed, at
// 100,000 versions: what matters is the memory beside the snapshot, bytes allocated per op.
func BenchmarkDocument(b *testing.B) {
	snap := &scanner.Snapshot{ScannedAt: t0}
	for i := range 100_000 {
		snap.Versions = append(snap.Versions, scanner.Version{Definition: &scanner.Definition{SubscriptionID: subA, ResourceGroup: "rg", Gallery: fmt.Sprintf("g%d", i%100), Image: "img"},
			Version: fmt.Sprintf("1.0.%d", i), Location: "westeurope",
			SoftDeletedAt: t0, ConsumptionEndsAt: t0.Add(time.Hour), PurgeAt: t0.Add(time.Hour), PurgeAtSource: scanner.SourceComputed})
	}
	b.Run("built", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			enc := json.NewEncoder(io.Discard)
			enc.SetIndent("", "  ")
			if err := enc.Encode(snap.DocumentOf(snap.Versions, t0)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("streamed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := snap.WriteDocument(io.Discard, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
