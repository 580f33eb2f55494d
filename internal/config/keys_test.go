package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

const (
	keysDoc   = "../../docs/configuration.md"
	keysBegin = "<!-- every key: generated from the Go types by go test ./internal/config -update; do not edit -->"
	keysEnd   = "<!-- end of every key -->"
)

// keyTable is docs/configuration.md's table of every key: its path, type and what its comment
// in the Go types says, so that the document cannot drift from what purgewatch reads.
func keyTable(t *testing.T) string {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(encode(t, schema(t)), &root); err != nil {
		t.Fatal(err)
	}
	var rows []string
	var walk func(path string, node map[string]any)
	walk = func(path string, node map[string]any) {
		props, _ := node["properties"].(map[string]any)
		names := make([]string, 0, len(props))
		for k := range props {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			child, _ := props[k].(map[string]any)
			p := strings.TrimPrefix(path+"."+k, ".")
			typ, _ := child["type"].(string)
			if items, ok := child["items"].(map[string]any); ok && typ == "array" {
				if _, nested := items["properties"]; nested {
					typ = "list of"
					rows = append(rows, row(p+"[]", typ, child))
					walk(p+"[]", items)
					continue
				}
				if it, _ := items["type"].(string); it != "" {
					typ = "list of " + it
				}
			}
			if enum, ok := child["enum"].([]any); ok {
				var vs []string
				for _, v := range enum {
					vs = append(vs, fmt.Sprint(v))
				}
				typ += ": " + strings.Join(vs, ", ")
			}
			rows = append(rows, row(p, typ, child))
			if _, nested := child["properties"]; nested {
				walk(p, child)
			}
		}
	}
	walk("", root)
	return keysBegin + "\n\n| key | type | what it is |\n|---|---|---|\n" + strings.Join(rows, "\n") + "\n\n" + keysEnd
}

func row(path, typ string, node map[string]any) string {
	desc, _ := node["description"].(string)
	desc = strings.Join(strings.Fields(desc), " ")
	desc = strings.ReplaceAll(desc, "|", `\|`)
	return fmt.Sprintf("| `%s` | %s | %s |", path, typ, desc)
}

// TestTheConfigurationDocListsEveryKey: docs/configuration.md's table of keys is what the Go
// types say (run with -update after changing one).
func TestTheConfigurationDocListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile(keysDoc)
	if err != nil {
		t.Fatal(err)
	}
	want := keyTable(t)
	begin, end := bytes.Index(doc, []byte(keysBegin)), bytes.Index(doc, []byte(keysEnd))
	if *update {
		if begin < 0 || end < begin {
			doc = append(append(bytes.TrimRight(doc, "\n"), "\n\n## Every key\n\n"...), want+"\n"...)
		} else {
			doc = append(append(append([]byte{}, doc[:begin]...), want...), doc[end+len(keysEnd):]...)
		}
		if err := os.WriteFile(keysDoc, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if begin < 0 || end < begin || string(doc[begin:end+len(keysEnd)]) != want {
		t.Errorf("%s: the table of every key is not what the types say; run go test ./internal/config -update", keysDoc)
	}
}
