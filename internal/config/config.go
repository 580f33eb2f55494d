// Package config loads purgewatch's YAML configuration strictly: unknown keys, wrong types and
// invalid values are refused with the file, line and key named, before anything acts on them.
package config

import "time"

// Config is the whole configuration file.
type Config struct {
	Azure     Azure     `yaml:"azure"`
	Retention Retention `yaml:"retention"`
	Scan      Scan      `yaml:"scan"`
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

// Scan bounds one scan.
type Scan struct {
	Timeout time.Duration `yaml:"timeout"`
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
		Scan:      Scan{Timeout: 10 * time.Minute},
	}
}
