// Package config loads purgewatch's YAML configuration strictly: unknown keys, wrong types and
// invalid values are refused with the file, line and key named, before anything acts on them.
package config

import (
	"cmp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/purgewatch/purgewatch/internal/redact"
)

// Config is the whole configuration file.
type Config struct {
	Azure     Azure     `yaml:"azure"`
	Retention Retention `yaml:"retention"`
	Scan      Scan      `yaml:"scan"`
	Server    Server    `yaml:"server"`
	Log       Log       `yaml:"log"`
	Metrics   Metrics   `yaml:"metrics"`
	Notify    Notify    `yaml:"notify"`
	Audit     Audit     `yaml:"audit"`
	HA        HA        `yaml:"ha"`

	// What the file said, beyond its values: a reload refuses an empty file, and a file that
	// drops every channel without saying so.
	empty, channelsExplicit bool
}

// Empty reports whether the file was empty (every default).
func (c *Config) Empty() bool { return c.empty }

// ChannelsExplicit reports whether the file names notify.channels itself, even as [].
func (c *Config) ChannelsExplicit() bool { return c.channelsExplicit }

// Audit configures the findings `purgewatch audit` and each daemon scan compute.
type Audit struct {
	// Enabled makes the daemon audit after each scan: it lists VMs and scale sets, and the live
	// versions of soft-delete galleries (more ARM reads per scan).
	Enabled bool `yaml:"enabled"`
	// MinRetentionDays is the least retention a gallery should have.
	MinRetentionDays int `yaml:"minRetentionDays" jsonschema:"minimum=1,maximum=365"`
}

// Azure says how to reach ARM and which subscriptions to scan.
type Azure struct {
	// Auth picks the credential: default | workload-identity | managed-identity | azure-cli |
	// client-secret | none.
	Auth string `yaml:"auth" jsonschema:"enum=default,enum=workload-identity,enum=managed-identity,enum=azure-cli,enum=client-secret,enum=none"`
	// Cloud is public | china | usgovernment.
	Cloud string `yaml:"cloud" jsonschema:"enum=public,enum=china,enum=usgovernment"`
	// Endpoint overrides the ARM endpoint (a simulator).
	Endpoint string `yaml:"endpoint"`
	// TenantID, ClientID and ClientSecret serve client-secret (all three) and managed-identity
	// (ClientID of a user-assigned identity); elsewhere azidentity reads its own variables.
	TenantID     string `yaml:"tenantId"`
	ClientID     string `yaml:"clientId"`
	ClientSecret string `yaml:"clientSecret"`
	// Subscriptions to scan; empty means every enabled subscription the identity can list.
	Subscriptions        []string `yaml:"subscriptions"`
	ExcludeSubscriptions []string `yaml:"excludeSubscriptions"`
	// Discovery is how galleries and image definitions are found: arm walks subscriptions and
	// galleries; resourcegraph asks Azure Resource Graph in a few paged queries (and walks ARM
	// for a scan whose query is refused). The recycle bins are listed through ARM either way.
	Discovery string `yaml:"discovery" jsonschema:"enum=arm,enum=resourcegraph"`
	// ManagementGroups, with discovery: resourcegraph and no subscriptions, scope the scan to
	// the subscriptions under these management groups (their ids).
	ManagementGroups []string `yaml:"managementGroups"`
	// Concurrency bounds the ARM requests in flight, in total.
	Concurrency int `yaml:"concurrency" jsonschema:"minimum=1"`
	// RequestTimeout bounds each attempt of one ARM request, body included.
	RequestTimeout time.Duration `yaml:"requestTimeout"`
}

// Retention is what purgewatch assumes when a gallery does not report its own policy.
type Retention struct {
	DefaultDays int `yaml:"defaultDays" jsonschema:"minimum=1,maximum=365"`
}

// Scan says when to scan and how long one scan may take.
type Scan struct {
	// Schedule is a 5-field cron expression or a descriptor such as "@every 10m".
	Schedule string        `yaml:"schedule"`
	Timeout  time.Duration `yaml:"timeout"`
	// Incremental, with azure.discovery: resourcegraph, lists a recycle bin only when something
	// says it may have changed (its image definition's live versions, a deadline of a version in
	// it, a failed listing), and each bin at least every FullEvery, spread across that period.
	Incremental bool          `yaml:"incremental"`
	FullEvery   time.Duration `yaml:"fullEvery"`
}

// Server is the HTTP endpoint of `purgewatch run`.
type Server struct {
	Listen string `yaml:"listen"`
	// WebConfigFile is an exporter-toolkit web config: TLS, mTLS and basic auth for every endpoint.
	WebConfigFile string `yaml:"webConfigFile"`
	// EnableLifecycle turns on POST /-/reload, POST /api/v1/outbox/retry and POST/DELETE
	// /api/v1/silences, as Prometheus's --web.enable-lifecycle; off, only SIGHUP reloads. Read
	// at start.
	EnableLifecycle bool `yaml:"enableLifecycle"`
	// ExternalURL is where people reach purgewatch (--web.external-url): notifications link to
	// its status page, and Alertmanager alerts carry it as generatorURL.
	ExternalURL string `yaml:"externalURL"`
}

// Log configures zap.
type Log struct {
	// Level is the least severe message logged (--log.level).
	Level string `yaml:"level" jsonschema:"enum=debug,enum=info,enum=warn,enum=error"`
	// Format is json (lines, for collectors), logfmt (as the Prometheus stack writes) or console
	// (for people) (--log.format).
	Format string `yaml:"format" jsonschema:"enum=json,enum=logfmt,enum=console"`
}

// Metrics tunes what /metrics exports.
type Metrics struct {
	// Relative exports purgewatch_soft_deleted_version_seconds_until_purge, a value that changes
	// at every scrape; the absolute timestamps carry the same information.
	Relative bool `yaml:"relative"`
	// TagLabels are the Azure tags exported as labels (owner becomes tag_owner) on
	// purgewatch_gallery_info and purgewatch_image_info (an image definition's tag wins over its
	// gallery's), and on the alertmanager channel's alerts, so that Alertmanager routes a version
	// to its team. The shipped rules join tag_owner and tag_team.
	TagLabels []string `yaml:"tagLabels"`
	// StoragePricePerGBMonth, when set, is what a GB of a replica costs a month (your price, in
	// your currency): the page then estimates what each soft-deleted version keeps billed. No
	// pricing service is asked.
	StoragePricePerGBMonth float64 `yaml:"storagePricePerGBMonth"`
}

// TagLabel is the label a tag is exported as: tag_ and its name, with every character a
// Prometheus label name cannot hold made an underscore.
func TagLabel(tag string) string {
	b := []byte("tag_" + tag)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// TagValue is a tag's value as a label carries it: at most 128 bytes, cut at a character.
func TagValue(v string) string {
	const most = 128
	if len(v) <= most {
		return v
	}
	cut := most - len("…")
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "…"
}

// Notify says who is warned, when, and through what.
type Notify struct {
	// StateFile is the notification log (bbolt): what was sent where, and what waits to be.
	StateFile string `yaml:"stateFile"`
	// Thresholds are the times left at which a version is announced as expiring.
	Thresholds []time.Duration `yaml:"thresholds"`
	// BlindAfter is how long without a complete scan before every channel gets a scan-failing event.
	BlindAfter time.Duration `yaml:"blindAfter"`
	// Keep is how long the log remembers a version after it left the recycle bin; then its
	// entries are pruned, so that the state file holds what is still in the bins.
	Keep     time.Duration `yaml:"keep"`
	Retry    Retry         `yaml:"retry"`
	Channels []Channel     `yaml:"channels"`
	Routes   []Route       `yaml:"routes"`
	// Routine is what a routine version (superseded, unused: an image pipeline's pruning) is
	// announced with: warn (every threshold, never critical), digest (one summary per channel at
	// DigestSchedule) or quiet (the page and metrics only).
	Routine string `yaml:"routine" jsonschema:"enum=warn,enum=digest,enum=quiet"`
	// DigestSchedule is when the routine digest goes out (cron, UTC).
	DigestSchedule string `yaml:"digestSchedule"`
	// Expected makes more versions routine: deletions that are intended.
	Expected ExpectedDeletions `yaml:"expected"`
}

// ExpectedDeletions are deletions that are intended.
type ExpectedDeletions struct {
	// Deleters, when set, are who may delete versions as routine: app ids, object ids or globs
	// on user principal names (as match.deletedBy). A version anyone else deleted is not routine
	// (unexpected-deleter), nor one whose deleter the Activity Log does not tell (unknown-deleter).
	Deleters []string `yaml:"deleters"`
	// Rules: a version any rule matches is routine, unless it is in use or its use is not known.
	Rules []Expected `yaml:"rules"`
}

// Expected is one rule of intended deletions.
type Expected struct {
	Match Match `yaml:"match"`
}

// Routine modes.
const (
	RoutineWarn   = "warn"
	RoutineDigest = "digest"
	RoutineQuiet  = "quiet"
)

// Retry is the backoff of a failed send: Initial, doubling up to Max (or what Retry-After asks,
// up to Max: a receiver cannot park a channel longer).
type Retry struct {
	Initial time.Duration `yaml:"initial"`
	Max     time.Duration `yaml:"max"`
}

// Channel is one place warnings go. Which fields apply depends on Type.
type Channel struct {
	Name string `yaml:"name" jsonschema:"required,minLength=1"`
	// Type is slack | teams | email | webhook | alertmanager | log.
	Type       string   `yaml:"type" jsonschema:"required,enum=slack,enum=teams,enum=email,enum=webhook,enum=alertmanager,enum=log"`
	WebhookURL string   `yaml:"webhookURL"` // slack, teams
	URL        string   `yaml:"url"`        // webhook
	Secret     string   `yaml:"secret"`     // webhook: HMAC-SHA256 key of X-Purgewatch-Signature
	URLs       []string `yaml:"urls"`       // alertmanager: every one is sent to
	SMTP       SMTP     `yaml:"smtp"`       // email
	From       string   `yaml:"from"`       // email
	To         []string `yaml:"to"`         // email
	// Template is a file overriding the channel type's built-in template.
	Template string        `yaml:"template"`
	Timeout  time.Duration `yaml:"timeout"`
}

// SMTP is an email channel's server.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port" jsonschema:"minimum=1,maximum=65535"`
	TLS      string `yaml:"tls" jsonschema:"enum=starttls,enum=tls,enum=none"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Route sends the versions it matches to its channels.
type Route struct {
	Match    Match    `yaml:"match"`
	Channels []string `yaml:"channels"`
}

// Match selects versions; every field set must match (names case-insensitively, tags exactly).
type Match struct {
	Subscription  string            `yaml:"subscription"`
	ResourceGroup string            `yaml:"resourceGroup"`
	Gallery       string            `yaml:"gallery"`
	Image         string            `yaml:"image"`
	Tags          map[string]string `yaml:"tags"`
	// DeletedBy matches who deleted the version, from the Activity Log: an app id, an object id,
	// or a glob on the user principal name (*@contoso.com); a version whose deleter is not known
	// does not match.
	DeletedBy string `yaml:"deletedBy"`
	// Routine, in a route, matches versions triage judged routine (true) or not (false).
	Routine *bool `yaml:"routine"`
}

// Channel types.
const (
	ChannelSlack        = "slack"
	ChannelTeams        = "teams"
	ChannelEmail        = "email"
	ChannelWebhook      = "webhook"
	ChannelAlertmanager = "alertmanager"
	ChannelLog          = "log"
)

// Auth modes (internal/arm spells them the same; a test in cmd/purgewatch holds them together).
const (
	AuthDefault          = "default"
	AuthWorkloadIdentity = "workload-identity"
	AuthManagedIdentity  = "managed-identity"
	AuthAzureCLI         = "azure-cli"
	AuthClientSecret     = "client-secret"
	AuthNone             = "none"
)

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		Azure:     Azure{Auth: AuthDefault, Cloud: "public", Discovery: "arm", Concurrency: 16, RequestTimeout: 30 * time.Second},
		Retention: Retention{DefaultDays: 7},
		Scan:      Scan{Schedule: "*/15 * * * *", Timeout: 10 * time.Minute, FullEvery: 6 * time.Hour},
		Server:    Server{Listen: ":9772"},
		Log:       Log{Level: "info", Format: "json"},
		Notify: Notify{Thresholds: []time.Duration{72 * time.Hour, 24 * time.Hour, 6 * time.Hour}, BlindAfter: time.Hour, Keep: 30 * 24 * time.Hour,
			Retry: Retry{Initial: 30 * time.Second, Max: time.Hour}, Routine: RoutineDigest, DigestSchedule: "0 9 * * *"},
		Audit: Audit{Enabled: true, MinRetentionDays: 7},
	}
}

// fillChannelDefaults sets what list items cannot take from Default().
func fillChannelDefaults(c *Config) {
	for i := range c.Notify.Channels {
		ch := &c.Notify.Channels[i]
		if ch.Timeout == 0 {
			ch.Timeout = 10 * time.Second
		}
		if ch.Type == ChannelEmail {
			if ch.SMTP.Port == 0 {
				ch.SMTP.Port = 587
			}
			if ch.SMTP.TLS == "" {
				ch.SMTP.TLS = "starttls"
			}
		}
	}
}

// normalize orders what validation has accepted, after it, so errors name the indexes as written.
func normalize(c *Config) {
	// Loosest first: the order warnings are crossed in.
	slices.SortFunc(c.Notify.Thresholds, func(a, b time.Duration) int { return cmp.Compare(b, a) })
}

// Secrets are the values of c that must never be written anywhere: webhook URLs (their path is
// the token), webhook keys, SMTP passwords, credentials in Alertmanager URLs, the client secret.
func (c *Config) Secrets() []string {
	out := []string{c.Azure.ClientSecret, c.HA.AzureBlob.AccountKey}
	for _, ch := range c.Notify.Channels {
		out = append(out, ch.Secrets()...)
	}
	return out
}

// Secrets are the channel's values that must never be written anywhere.
func (ch Channel) Secrets() []string {
	out := []string{ch.Secret, ch.SMTP.Password}
	if ch.SMTP.Password != "" {
		// SMTP AUTH PLAIN's credentials, whose base64 a server may quote back.
		out = append(out, "\x00"+ch.SMTP.Username+"\x00"+ch.SMTP.Password)
	}
	for _, u := range []string{ch.WebhookURL, ch.URL} {
		if u != "" {
			out = append(out, redact.Parts(u)...)
		}
	}
	for _, u := range ch.URLs {
		out = append(out, redact.Password(u)...)
	}
	return out
}
