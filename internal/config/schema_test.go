package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/invopop/jsonschema"
)

var update = flag.Bool("update", false, "rewrite deploy/config.schema.json and the chart's values.schema.json from the Go types")

const (
	schemaFile = "../../deploy/config.schema.json"
	valuesFile = "../../deploy/helm/purgewatch/values.schema.json"
)

// schema is the JSON Schema of the configuration file, reflected from the types above and their
// comments: the one source of truth, which editors (yaml-language-server) and Helm read.
func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	r := &jsonschema.Reflector{FieldNameTag: "yaml", DoNotReference: true, ExpandedStruct: true, RequiredFromJSONSchemaTags: true,
		Mapper: func(typ reflect.Type) *jsonschema.Schema {
			if typ == reflect.TypeFor[time.Duration]() { // as the command line's: 90s, 10m, 72h, 1h30m, 30d, 1w
				return &jsonschema.Schema{Type: "string", Pattern: `^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w|y))+)$`,
					Examples: []any{"90s", "10m", "72h", "30d", "1w"}}
			}
			return nil
		}}
	if err := r.AddGoComments("github.com/purgewatch/purgewatch/internal/config", "."); err != nil {
		t.Fatal(err)
	}
	s := r.Reflect(&Config{})
	s.ID = "https://github.com/purgewatch/purgewatch/raw/main/deploy/config.schema.json"
	s.Title = "purgewatch configuration"
	return s
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// The shipped schema, and the copy the chart validates config: against, are what the types say.
// After changing a type: go test ./internal/config -run TestSchema -update.
func TestSchemaIsGeneratedFromTheTypes(t *testing.T) {
	s := schema(t)
	want := encode(t, s)

	// The chart's copy is embedded, so it carries no $schema or $id of its own.
	embedded := *s
	embedded.Version, embedded.ID, embedded.Title = "", "", ""
	embedded.Description = "purgewatch's config.yaml (deploy/config.schema.json); purgewatch validates it again at start"
	values, err := os.ReadFile(valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(values, &doc); err != nil {
		t.Fatalf("%s: %v", valuesFile, err)
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(doc["properties"], &props); err != nil {
		t.Fatalf("%s: properties: %v", valuesFile, err)
	}

	if *update {
		if err := os.WriteFile(schemaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
		props["config"] = encode(t, &embedded)
		doc["properties"] = encode(t, props)
		if err := os.WriteFile(valuesFile, encode(t, doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not what the types say (%v); run: go test ./internal/config -run TestSchema -update", schemaFile, err)
	}
	var inChart, fromTypes any
	_ = json.Unmarshal(props["config"], &inChart)
	_ = json.Unmarshal(encode(t, &embedded), &fromTypes)
	if !reflect.DeepEqual(inChart, fromTypes) {
		t.Errorf("%s: properties.config is not deploy/config.schema.json; run: go test ./internal/config -run TestSchema -update", valuesFile)
	}
}
