package deploytest

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

// docs are the documents a user reads. CHANGELOG.md is not among them: it names what was removed.
func docs(t *testing.T) map[string]string {
	t.Helper()
	paths, _ := filepath.Glob(repo("docs/*.md"))
	paths = append(paths, repo("README.md"), repo("CONTRIBUTING.md"), repo("SECURITY.md"), repo("deploy/azure/README.md"))
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repo(""), p)
		out[rel] = string(b)
	}
	return out
}

// TestTheDocsNameOnlyWhatExists: every metric the docs name is in a running purgewatch's
// exposition, every alert in deploy/prometheus/rules.yaml, every configuration key in
// deploy/config.schema.json, and every flag of a purgewatch command line in that command's help.
func TestTheDocsNameOnlyWhatExists(t *testing.T) {
	documents := docs(t)

	// Metrics: what `run --demo` exposes, with the channel metrics a state file brings.
	port := testtool.Serve(t, 1, binary, func(p []int) (string, []string) {
		return testtool.URL(p[0]) + "/readyz", []string{"run", "--demo", "--listen", testtool.Addr(p[0])}
	})[0]
	resp, err := http.Get(testtool.URL(port) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (purgewatch_\w+) (\w+)`).FindAllStringSubmatch(string(exposition), -1) {
		metrics[m[1]] = true
		if m[2] == "histogram" || m[2] == "summary" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				metrics[m[1]+s] = true
			}
		}
	}
	// and every metric the code declares (some appear only when they have a value: a pending
	// message's age, metrics.relative's seconds until).
	_ = filepath.WalkDir(repo(""), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			src, _ := os.ReadFile(p)
			for _, m := range regexp.MustCompile(`"(purgewatch_[a-z0-9_]+)"`).FindAllStringSubmatch(string(src), -1) {
				metrics[m[1]] = true
			}
		}
		return nil
	})
	// The other way round: every metric the running purgewatch exposes is in docs/metrics.md.
	metricsDoc := documents[filepath.Join("docs", "metrics.md")]
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (purgewatch_\w+) `).FindAllStringSubmatch(string(exposition), -1) {
		if !strings.Contains(metricsDoc, "`"+m[1]+"`") {
			t.Errorf("docs/metrics.md does not document %s, which purgewatch exports", m[1])
		}
	}
	alerts := map[string]bool{}
	for _, r := range testtool.AlertRules(t, repo("deploy/prometheus/rules.yaml")) {
		alerts[r.Alert] = true
	}
	var schema map[string]any
	data, _ := os.ReadFile(repo("deploy/config.schema.json"))
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	helps := map[string]string{}
	help := func(cmd []string) string {
		key := strings.Join(cmd, " ")
		if h, ok := helps[key]; ok {
			return h
		}
		out, _ := exec.Command(binary, append(slices.Clone(cmd), "--help")...).CombinedOutput()
		helps[key] = string(out)
		return helps[key]
	}
	commands := [][]string{{"run"}, {"scan"}, {"audit"}, {"recover"}, {"purge"}, {"notify", "preview"}, {"notify", "test"},
		{"notify", "outbox"}, {"notify", "retry"}, {"silence", "add"}, {"silence", "query"}, {"silence", "expire"}, {"config", "check"}}

	metricName := regexp.MustCompile(`\bpurgewatch_[a-z0-9_]*[a-z0-9]\b`)
	alertName := regexp.MustCompile(`\bPurgewatch[A-Z][A-Za-z]+\b`)
	codeSpan := regexp.MustCompile("`([^`\n]+)`")
	configKey := regexp.MustCompile(`^(azure|scan|notify|server|log|audit|retention|metrics)(\.[a-z][A-Za-z]*(\[\d*\])?)+$`)
	commandLine := regexp.MustCompile(`(?m)(?:^|\x60|\$ )(?:go run \./cmd/purgewatch|purgewatch) ([a-z]+(?: [a-z]+)?)((?: [^\x60\n]*)?)`)
	flag := regexp.MustCompile(`(?:^| )(--[a-z][a-z0-9.-]*)`)
	for name, text := range documents {
		for _, m := range metricName.FindAllString(text, -1) {
			if !metrics[m] && !strings.HasSuffix(m, "_") {
				t.Errorf("%s names the metric %s, which purgewatch does not export", name, m)
			}
		}
		for _, a := range alertName.FindAllString(text, -1) {
			if !alerts[a] {
				t.Errorf("%s names the alert %s, which deploy/prometheus/rules.yaml does not have", name, a)
			}
		}
		for _, span := range codeSpan.FindAllStringSubmatch(text, -1) {
			key := strings.TrimSuffix(strings.SplitN(span[1], ":", 2)[0], ".")
			if configKey.MatchString(key) && !inSchema(schema, key) {
				t.Errorf("%s names the configuration key %s, which deploy/config.schema.json does not have", name, key)
			}
		}
		for _, m := range commandLine.FindAllStringSubmatch(text, -1) {
			words := strings.Fields(m[1])
			cmd := words[:1]
			if len(words) == 2 && slices.ContainsFunc(commands, func(c []string) bool { return len(c) == 2 && c[0] == words[0] && c[1] == words[1] }) {
				cmd = words
			}
			if !slices.ContainsFunc(commands, func(c []string) bool { return slices.Equal(c, cmd) }) {
				continue // `purgewatch version`, or prose
			}
			for _, f := range flag.FindAllStringSubmatch(" "+m[2], -1) {
				long := strings.SplitN(f[1], "=", 2)[0]
				if !strings.Contains(help(cmd), long+"=") && !strings.Contains(help(cmd), long+" ") && !strings.Contains(help(cmd), "--[no-]"+long[2:]) {
					t.Errorf("%s gives `purgewatch %s` the flag %s, which it does not take", name, strings.Join(cmd, " "), long)
				}
			}
		}
	}
}

// inSchema reports whether a dotted key (notify.channels[].type) is a path of the schema.
func inSchema(schema map[string]any, key string) bool {
	node := schema
	for _, part := range strings.Split(key, ".") {
		name, indexed := strings.CutSuffix(regexp.MustCompile(`\[\d*\]$`).ReplaceAllString(part, "[]"), "[]")
		props, _ := node["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			if extra, open := node["additionalProperties"].(map[string]any); open { // a map: any key
				next = extra
			} else {
				return false
			}
		}
		if items, ok := next["items"].(map[string]any); ok && (indexed || next["type"] == "array") {
			next = items
		}
		node = next
	}
	return true
}

// TestTheSampleConfigNamesEveryKey: config.yaml, the documented sample docs/configuration.md
// points to, has every key of every section the schema (the Go types) has, set or commented.
func TestTheSampleConfigNamesEveryKey(t *testing.T) {
	var schema struct {
		Properties map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"properties"`
	}
	data, _ := os.ReadFile(repo("deploy/config.schema.json"))
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	sample, err := os.ReadFile(repo("config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for section, s := range schema.Properties {
		if !regexp.MustCompile(`(?m)^#? ?` + section + `:`).Match(sample) {
			t.Errorf("config.yaml has no %s section", section)
		}
		for key := range s.Properties {
			if !regexp.MustCompile(`(?m)^\s*#?\s*` + regexp.QuoteMeta(key) + `:`).Match(sample) {
				t.Errorf("config.yaml does not document %s.%s", section, key)
			}
		}
	}
}
