// Package config loads purgewatch's YAML configuration strictly: unknown keys, wrong types and
// invalid values are refused with the file, line and key named, before anything acts on them.
package config

import "time"

// Config is the whole configuration file.
type Config struct {
	Azure     Azure     `yaml:"azure"`
	Retention Retention `yaml:"retention"`
	Scan      Scan      `yaml:"scan"`
	Server    Server    `yaml:"server"`
	Log       Log       `yaml:"log"`
	Metrics   Metrics   `yaml:"metrics"`
}

// Azure says how to reach ARM and which subscriptions to scan.
type Azure struct {
	// Auth picks the credential: default | workload-identity | managed-identity | azure-cli |
	// client-secret | none.
	Auth string `yaml:"auth"`
	// Cloud is public | china | usgovernment.
	Cloud string `yaml:"cloud"`
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
	// Concurrency bounds the ARM requests in flight, in total.
	Concurrency int `yaml:"concurrency"`
}

// Retention is what purgewatch assumes when a gallery does not report its own policy.
type Retention struct {
	DefaultDays int `yaml:"defaultDays"`
}

// Scan says when to scan and how long one scan may take.
type Scan struct {
	// Schedule is a 5-field cron expression or a descriptor such as "@every 10m".
	Schedule string        `yaml:"schedule"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Server is the HTTP endpoint of `purgewatch run`.
type Server struct {
	Listen string `yaml:"listen"`
	// WebConfigFile is an exporter-toolkit web config: TLS, mTLS and basic auth for every endpoint.
	WebConfigFile string `yaml:"webConfigFile"`
}

// Log configures zap.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | console
}

// Metrics tunes what /metrics exports.
type Metrics struct {
	// Relative exports purgewatch_soft_deleted_version_seconds_until_purge, a value that changes
	// at every scrape; the absolute timestamps carry the same information.
	Relative bool `yaml:"relative"`
}

// Auth modes.
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
		Azure:     Azure{Auth: AuthDefault, Cloud: "public", Concurrency: 16},
		Retention: Retention{DefaultDays: 7},
		Scan:      Scan{Schedule: "*/15 * * * *", Timeout: 10 * time.Minute},
		Server:    Server{Listen: ":9772"},
		Log:       Log{Level: "info", Format: "json"},
		Metrics:   Metrics{Relative: true},
	}
}
