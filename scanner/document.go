package scanner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// WriteDocument writes the document of s (as DocumentOf makes it, indented) to w one version at a
// time, so that 100,000 versions never sit in memory twice: only the snapshot does.
func (s *Snapshot) WriteDocument(w io.Writer, now time.Time) error {
	return s.WriteDocumentOf(w, s.Versions, now, nil)
}

// WriteDocumentOf writes the document of s with only vs (a selection or a page of its versions)
// as its versions, the same way; then, when extra is not nil, the members of extra (a struct or
// map, marshalled as a JSON object) after the document's own.
func (s *Snapshot) WriteDocumentOf(w io.Writer, vs []Version, now time.Time, extra any) error {
	var tail []byte
	if extra != nil {
		data, err := json.MarshalIndent(extra, "", "  ")
		if err != nil {
			return fmt.Errorf("the document's extra members: %w", err)
		}
		if len(data) < 2 || data[0] != '{' {
			return fmt.Errorf("the document's extra members %T are not a JSON object", extra)
		}
		tail = bytes.TrimSpace(data[1 : len(data)-1])
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	doc := s.DocumentOf(nil, now) // galleries and errors, [] where empty
	at, err := json.Marshal(doc.ScannedAt)
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "{\n  \"scannedAt\": %s,\n  \"versions\": [", at)
	for i, v := range vs {
		item, err := json.MarshalIndent(NewDocumentVersion(v, now), "    ", "  ")
		if err != nil {
			return fmt.Errorf("version %s: %w", v.ID(), err)
		}
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		bw.Write(item)
	}
	if len(vs) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n")
	for i, part := range []struct {
		name  string
		value any
	}{{"galleries", doc.Galleries}, {"errors", doc.Errors}} {
		data, err := json.MarshalIndent(part.value, "  ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n"
		if i == 1 && len(tail) == 0 {
			sep = "\n"
		}
		fmt.Fprintf(bw, "  %q: %s%s", part.name, data, sep)
	}
	if len(tail) > 0 {
		fmt.Fprintf(bw, "  %s\n", tail)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// Document is a Snapshot as the JSON document of `scan -o json` and /api/v1/versions.
type Document struct {
	ScannedAt time.Time         `json:"scannedAt"`
	Versions  []DocumentVersion `json:"versions"`
	Galleries []Gallery         `json:"galleries"`
	Errors    []ScopeError      `json:"errors"`
}

// DocumentVersion is a Version with the seconds left to each deadline at the time the document
// was made (negative once passed).
type DocumentVersion struct {
	ID string `json:"id"`
	Version
	SecondsUntilConsumptionEnd int64 `json:"secondsUntilConsumptionEnd"`
	SecondsUntilPurge          int64 `json:"secondsUntilPurge"`
	// Routine and Reasons are the version's triage, absent when it was not judged.
	Routine *bool     `json:"routine,omitempty"`
	Reasons *[]string `json:"reasons,omitempty"`
}

// UnmarshalJSON reads a document's version as encoding/json wrote it; without it the Version's
// decoder, promoted, would read the version alone.
func (d *DocumentVersion) UnmarshalJSON(data []byte) error {
	var v Version
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	var rest struct {
		ID                         string   `json:"id"`
		SecondsUntilConsumptionEnd int64    `json:"secondsUntilConsumptionEnd"`
		SecondsUntilPurge          int64    `json:"secondsUntilPurge"`
		Routine                    *bool    `json:"routine"`
		Reasons                    []string `json:"reasons"`
	}
	if err := json.Unmarshal(data, &rest); err != nil {
		return err
	}
	if rest.Routine != nil {
		v.Triage = append([]string{}, rest.Reasons...)
	}
	*d = DocumentVersion{ID: rest.ID, Version: v, SecondsUntilConsumptionEnd: rest.SecondsUntilConsumptionEnd,
		SecondsUntilPurge: rest.SecondsUntilPurge, Routine: rest.Routine}
	if rest.Routine != nil {
		d.Reasons = &v.Triage
	}
	return nil
}

// NewDocumentVersion counts v's time left from now.
func NewDocumentVersion(v Version, now time.Time) DocumentVersion {
	d := DocumentVersion{ID: v.ID(), Version: v, SecondsUntilConsumptionEnd: int64(v.ConsumptionEndsAt.Sub(now) / time.Second),
		SecondsUntilPurge: int64(v.PurgeAt.Sub(now) / time.Second)}
	if v.Triage != nil {
		routine := v.Routine()
		d.Routine, d.Reasons = &routine, &v.Triage
	}
	return d
}

// DocumentOf renders s with only vs (a selection or a page of its versions) as its versions.
func (s *Snapshot) DocumentOf(vs []Version, now time.Time) Document {
	d := Document{ScannedAt: s.ScannedAt.UTC(), Versions: make([]DocumentVersion, len(vs)),
		Galleries: s.Galleries, Errors: s.Errors}
	for i, v := range vs {
		d.Versions[i] = NewDocumentVersion(v, now)
	}
	if d.Galleries == nil {
		d.Galleries = []Gallery{}
	}
	if d.Errors == nil {
		d.Errors = []ScopeError{}
	}
	return d
}
