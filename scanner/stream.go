package scanner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// WriteDocument writes the document of s (as Document makes it, indented) to w one version at a
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
