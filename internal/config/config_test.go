package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func env(vars map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestSampleConfigIsValidAndMatchesTheDefaults(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("config.yaml", data, env(nil))
	if err != nil {
		t.Fatalf("the documented sample is refused: %v", err)
	}
	d := Default()
	if cfg.Azure.Auth != d.Azure.Auth || cfg.Azure.Concurrency != d.Azure.Concurrency ||
		cfg.Retention.DefaultDays != d.Retention.DefaultDays || cfg.Scan != d.Scan || cfg.Server != d.Server ||
		cfg.Log != d.Log || cfg.Metrics.Relative != d.Metrics.Relative || len(cfg.Metrics.TagLabels) != len(d.Metrics.TagLabels) || cfg.Audit != d.Audit {
		t.Errorf("sample %+v drifts from the defaults %+v", cfg, d)
	}
}

func TestParseOverridesDefaultsAndExpandsEnvironment(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`
azure:
  auth: client-secret
  tenantId: ${TENANT}
  clientId: "app-${APP}"
  clientSecret: ${SECRET}
  subscriptions: [1f0c3a52-6d0e-4b8e-9a51-2a7c3e5d9b01]
scan:
  timeout: 90s
`), env(map[string]string{"TENANT": "t1", "APP": "42", "SECRET": "s3cr3t"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Azure.TenantID != "t1" || cfg.Azure.ClientID != "app-42" || cfg.Azure.ClientSecret != "s3cr3t" {
		t.Errorf("expansion: %+v", cfg.Azure)
	}
	if cfg.Scan.Timeout != 90*time.Second || cfg.Azure.Concurrency != 16 || cfg.Retention.DefaultDays != 7 {
		t.Errorf("overrides and defaults: %+v", cfg)
	}
}

func TestEmptyFileIsAllDefaults(t *testing.T) {
	cfg, err := Parse("empty.yaml", []byte("# nothing\n"), env(nil))
	if err != nil || cfg.Azure.Auth != "default" {
		t.Fatalf("cfg %+v, err %v", cfg, err)
	}
}

// config check reports every problem of a file in one pass, sorted by line, in plain words:
// a key of the wrong type does not hide the rest.
func TestEveryProblemAtOnceByLine(t *testing.T) {
	_, err := Parse("c.yaml", []byte("azure:\n  auth: magic\n  concurrency: lots\nscan:\n  schedule: \"bad cron\"\n  timeout: forever\nnotify:\n  thresholds: [72h, soon]\n  keep: 1m\n"), env(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		`c.yaml:2: azure.auth: "magic" is not one of`,
		"c.yaml:3: azure.concurrency: `lots` is not a whole number",
		`c.yaml:5: scan.schedule: "bad cron" is not a cron schedule`,
		"c.yaml:6: scan.timeout: `forever` is not a duration such as 90s, 10m, 72h or 30d",
		"c.yaml:8: notify.thresholds[1]: `soon` is not a duration such as 90s, 10m, 72h or 30d", // the element, as validate names it
		"c.yaml:9: notify.keep: must be at least 1h",
	}
	if len(got) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to start %q", i+1, got[i], want[i])
		}
		if strings.Contains(got[i], "!!") || strings.Contains(got[i], "time.Duration") {
			t.Errorf("Go's words in %q", got[i])
		}
	}
}

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "azure:\n  auth: none\n  autth: none\n", []string{`c.yaml:3: azure.autth: unknown key "autth"`}},
		{"unknown top-level key", "retention:\n  defaultDays: 7\nnotifications: {}\n", []string{`c.yaml:3: notifications: unknown key "notifications"`}},
		{"wrong type", "azure:\n  concurrency: lots\n", []string{"c.yaml:2: azure.concurrency: `lots` is not a whole number"}},
		{"a list for a value", "scan:\n  schedule: [a, b]\n", []string{"c.yaml:2: scan.schedule: a list is not a single value"}},
		{"a tab", "azure:\n\tauth: none\nscan:\n  \ttimeout: 1m\n", []string{
			"c.yaml:2: a tab in the indentation: YAML indents with spaces only", "c.yaml:4: a tab in the indentation"}},
		{"bad duration", "scan:\n  timeout: soon\n", []string{"c.yaml:2: scan.timeout:"}},
		{"invalid auth", "azure:\n  auth: magic\n", []string{`c.yaml:2: azure.auth: "magic" is not one of default, workload-identity`}},
		{"invalid cloud", "azure:\n  cloud: mars\n", []string{`c.yaml:2: azure.cloud: "mars" is not one of`}},
		{"plain http with a token", "azure:\n  endpoint: http://127.0.0.1:8080\n", []string{"c.yaml:2: azure.endpoint: plain http is allowed only with auth: none"}},
		{"not a URL", "azure:\n  auth: none\n  endpoint: ftp://x\n", []string{`c.yaml:3: azure.endpoint: "ftp://x" is not an http(s) URL`}},
		{"bad subscription", "azure:\n  subscriptions:\n    - 1f0c3a52-6d0e-4b8e-9a51-2a7c3e5d9b01\n    - prod\n", []string{`c.yaml:4: azure.subscriptions[1]: "prod" is not a subscription ID`}},
		{"client-secret incomplete", "azure:\n  auth: client-secret\n  tenantId: t\n", []string{
			"c.yaml:2: azure.clientId: is required with auth: client-secret", "c.yaml:2: azure.clientSecret: is required"}},
		{"out of range, several at once", "azure:\n  concurrency: 0\nretention:\n  defaultDays: 0\nscan:\n  timeout: 0s\n", []string{
			"c.yaml:2: azure.concurrency: 0 is outside 1..256", "c.yaml:4: retention.defaultDays: 0 is outside 1..365",
			"c.yaml:6: scan.timeout: must be a positive duration"}},
		{"unset variable", "azure:\n  auth: client-secret\n  tenantId: t\n  clientId: c\n  clientSecret: ${NOPE}\n", []string{
			"c.yaml:5: azure.clientSecret: environment variable NOPE is not set"}},
		// yaml.v3 gives a syntax error only as text: its "line N:" is read, and pinned here.
		{"syntax", "azure:\n  auth: [none\n", []string{"c.yaml:1: did not find expected ',' or ']'"}},
		{"the state file is the config", "notify:\n  stateFile: ./c.yaml\n  channels: [{name: l, type: log}]\n", []string{"c.yaml:2: notify.stateFile: ./c.yaml is the configuration file"}},
		{"a key twice", "azure:\n  auth: none\n  auth: none\n", []string{`c.yaml:3: azure.auth: mapping key "auth" already defined at line 2`}},
		{"ha without a channel or a container", "ha:\n  backend: azure-blob\n  azureBlob:\n    serviceURL: http://127.0.0.1:10000/devstoreaccount1\n    container: Leases\n  leaseDuration: 5s\n", []string{
			"c.yaml:2: ha.backend: needs notify.channels", "c.yaml:4: ha.azureBlob.serviceURL: plain http is allowed only with auth: shared-key",
			`c.yaml:5: ha.azureBlob.container: "Leases" is not a container name`, "c.yaml:6: ha.leaseDuration: 5s is outside 15s..60s"}},
		{"ha shared key incomplete", "notify:\n  stateFile: s.db\n  channels: [{name: l, type: log}]\nha:\n  backend: azure-blob\n  azureBlob:\n    serviceURL: http://127.0.0.1:10000/devstoreaccount1\n    container: leases\n    auth: shared-key\n", []string{
			"c.yaml:9: ha.azureBlob.accountName: is required with auth: shared-key", "c.yaml:9: ha.azureBlob.accountKey: must be the account's key"}},
		{"a mapping for a list", "notify:\n  thresholds:\n    soon: 1h\n", []string{"c.yaml:3: notify.thresholds: a mapping (key: value lines) is not a list"}},
		{"a list for a section", "azure:\n  - auth\n", []string{"c.yaml:2: azure: a list is not a mapping (key: value lines)"}},
		{"bad schedule", "scan:\n  schedule: every quarter hour\n", []string{`c.yaml:2: scan.schedule: "every quarter hour" is not a cron schedule`}},
		{"a schedule that never fires", "scan:\n  schedule: \"0 0 30 2 *\"\n", []string{`c.yaml:2: scan.schedule: "0 0 30 2 *" never fires`}},
		{"a digest on an interval", "notify:\n  digestSchedule: \"@every 24h\"\n", []string{`c.yaml:2: notify.digestSchedule: "@every 24h" is an interval, not times of day`}},
		{"a broken deleter glob", "notify:\n  expected:\n    deleters: [\"[bots@contoso.com\"]\n", []string{`c.yaml:3: notify.expected.deleters[0]: "[bots@contoso.com" is not a valid glob`}},
		{"a rule on the deleter alone", "notify:\n  expected:\n    rules:\n      - match: {deletedBy: \"\"}\n", []string{"c.yaml:4: notify.expected.rules[0].match: matches every version"}},
		{"six-field cron", "scan:\n  schedule: \"0 */15 * * * *\"\n", []string{`c.yaml:2: scan.schedule:`}},
		{"keep too short", "notify:\n  keep: 10m\n", []string{"c.yaml:2: notify.keep: must be at least 1h (default 720h: 30 days)"}},
		{"management groups need resourcegraph", "azure:\n  managementGroups: [platform]\n", []string{"c.yaml:2: azure.managementGroups: needs discovery: resourcegraph"}},
		{"bad discovery", "azure:\n  discovery: graph\n", []string{`c.yaml:2: azure.discovery: "graph" is not one of arm, resourcegraph`}},
		{"incremental needs resourcegraph", "scan:\n  incremental: true\n", []string{"c.yaml:2: scan.incremental: needs azure.discovery: resourcegraph"}},
		{"bad listen", "server:\n  listen: 9772\n", []string{`c.yaml:2: server.listen: "9772" is not host:port`}},
		{"relative external URL", "server:\n  externalURL: /purgewatch\n", []string{`c.yaml:2: server.externalURL: "/purgewatch" is not an absolute http(s) URL`}},
		{"external URL with a query", "server:\n  externalURL: https://pw.example.com/?a=b\n", []string{`c.yaml:2: server.externalURL: "https://pw.example.com/?a=b" has a query`}},
		{"missing web config", "server:\n  webConfigFile: /nonexistent/web.yml\n", []string{"c.yaml:2: server.webConfigFile: /nonexistent/web.yml:"}},
		{"notify channel errors", `notify:
  stateFile: /tmp/s.db
  thresholds: [24h, 0s, 24h]
  channels:
    - {name: chat, type: slack}
    - {name: chat, type: teams, webhookURL: "ftp://x"}
    - name: mail
      type: email
      smtp: {host: "", port: 70000, tls: maybe}
      from: nobody
      to: [ok@example.com, "not an address"]
    - {name: am, type: alertmanager}
    - {name: x, type: pager}
  routes:
    - match: {tags: {owner: team-a}}
      channels: [mail, nowhere]
`, []string{
			"c.yaml:3: notify.thresholds[1]: must be a positive duration",
			"c.yaml:3: notify.thresholds[2]: 24h0m0s is listed twice",
			"c.yaml:5: notify.channels[0].webhookURL: is required for a slack channel",
			`c.yaml:6: notify.channels[1].name: channel "chat" is defined twice`,
			"c.yaml:6: notify.channels[1].webhookURL: is not an http(s) URL",
			"c.yaml:8: notify.channels[2].smtp.host: is required for an email channel",
			"c.yaml:9: notify.channels[2].smtp.port: 70000 is not a port",
			`c.yaml:9: notify.channels[2].smtp.tls: "maybe" is not one of starttls, tls, none`,
			`c.yaml:10: notify.channels[2].from: "nobody" is not an email address`,
			`c.yaml:11: notify.channels[2].to[1]: "not an address" is not an email address`,
			"c.yaml:12: notify.channels[3].urls: an alertmanager channel needs at least one URL",
			`c.yaml:13: notify.channels[4].type: "pager" is not one of`,
			`c.yaml:16: notify.routes[0].channels[1]: no channel is named "nowhere"`,
		}},
		{"channels without a state file", "notify:\n  channels:\n    - {name: out, type: log}\n", []string{
			"c.yaml:1: notify.stateFile: is required when channels are configured"}},
		{"bad log level", "log:\n  level: loud\n  format: xml\n", []string{`c.yaml:2: log.level: "loud"`, `c.yaml:3: log.format: "xml"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml), env(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %s\ndoes not contain\n  %s", err, w)
				}
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "c.yaml" {
				t.Errorf("error is not a *config.Error naming the file: %#v", err)
			}
		})
	}
}

func TestLoadNamesAMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestWebConfigFileIsValidatedAsRunWouldServeIt(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Parse("c.yaml", []byte("server:\n  webConfigFile: "+bad+"\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:2: server.webConfigFile: "+bad) {
		t.Fatalf("err = %v", err)
	}
	good := filepath.Join(dir, "auth.yml")
	// bcrypt of "secret", as exporter-toolkit's docs generate it.
	if err := os.WriteFile(good, []byte("basic_auth_users:\n  prometheus: $2y$10$Q3Z5SGnB9EVlhm7O1sCO5eUo5ucYchCwVkxOgmS4KUo8VdN4hwRJS\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("c.yaml", []byte("server:\n  webConfigFile: "+good+"\n"), env(nil)); err != nil {
		t.Fatalf("a valid web config is refused: %v", err)
	}
}

func TestNotifyDefaultsAndOrder(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`notify:
  stateFile: /tmp/s.db
  thresholds: [6h, 72h, 24h]
  channels:
    - {name: mail, type: email, smtp: {host: smtp.example.com}, from: a@example.com, to: [b@example.com]}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Notify.Thresholds; len(got) != 3 || got[0] != 72*time.Hour || got[2] != 6*time.Hour {
		t.Errorf("thresholds = %v, want loosest first", got)
	}
	ch := cfg.Notify.Channels[0]
	if ch.SMTP.Port != 587 || ch.SMTP.TLS != "starttls" || ch.Timeout != 10*time.Second {
		t.Errorf("email defaults = %+v", ch)
	}
}

// TestDurationsReadAsTheCommandLinesDo: 30d, 1w and 1d12h, as a flag takes them, beside Go's own.
func TestDurationsReadAsTheCommandLinesDo(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("notify:\n  keep: 30d\n  thresholds: [1w, 1d12h, 90m]\n  blindAfter: 1.5h\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify.Keep != 30*24*time.Hour || cfg.Notify.BlindAfter != 90*time.Minute ||
		!slices.Equal(cfg.Notify.Thresholds, []time.Duration{7 * 24 * time.Hour, 36 * time.Hour, 90 * time.Minute}) {
		t.Errorf("keep %v, blindAfter %v, thresholds %v", cfg.Notify.Keep, cfg.Notify.BlindAfter, cfg.Notify.Thresholds)
	}
	if _, err := Parse("c.yaml", []byte("notify:\n  keep: a month\n"), nil); err == nil || !strings.Contains(err.Error(), "c.yaml:2: notify.keep:") {
		t.Errorf("a duration that is none: %v", err)
	}
}

// TestTagsBecomeLabelsPrometheusTakes: a tag's name is made a label name (tag_, and underscores
// for what a label cannot hold), its value cut at 128 bytes on a character; two tags that would
// be one label are refused, naming both.
func TestTagsBecomeLabelsPrometheusTakes(t *testing.T) {
	for tag, want := range map[string]string{"owner": "tag_owner", "cost-center": "tag_cost_center", "Team.Name": "tag_Team_Name", "é": "tag___"} {
		if got := TagLabel(tag); got != want {
			t.Errorf("TagLabel(%q) = %q, want %q", tag, got, want)
		}
	}
	long := strings.Repeat("é", 100) // 200 bytes
	if got := TagValue(long); len(got) > 128 || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("TagValue of 200 bytes = %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	if _, err := Parse("c.yaml", []byte("metrics:\n  tagLabels: [cost-center, cost_center]\n"), nil); err == nil ||
		!strings.Contains(err.Error(), `"cost-center" and "cost_center" are both exported as the label tag_cost_center`) {
		t.Errorf("two tags, one label: %v", err)
	}
}
