package scanner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// WriteDocument writes the document of s (as Document makes it, indented) to w one version at a
// time, so that 100,000 versions never sit in memory twice: only the snapshot does.
func (s *Snapshot) WriteDocument(w io.Writer, now time.Time) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	doc := s.DocumentOf(nil, now) // galleries and errors, [] where empty
	at, err := json.Marshal(doc.ScannedAt)
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "{\n  \"scannedAt\": %s,\n  \"versions\": [", at)
	for i, v := range s.Versions {
		item, err := json.MarshalIndent(NewDocumentVersion(v, now), "    ", "  ")
		if err != nil {
			return fmt.Errorf("version %s: %w", v.ID, err)
		}
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		bw.Write(item)
	}
	if len(s.Versions) > 0 {
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
		if i == 1 {
			sep = "\n"
		}
		fmt.Fprintf(bw, "  %q: %s%s", part.name, data, sep)
	}
	bw.WriteString("}\n")
	return bw.Flush()
}
