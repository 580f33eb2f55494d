package config

import (
	"encoding/base64"
	neturl "net/url"
	"os"
	"regexp"
	"time"
)

// HA runs purgewatch as several replicas with one leader at a time (internal/ha).
type HA struct {
	// Backend is where the lease is held: "" (off: one replica) or azure-blob.
	Backend string `yaml:"backend" jsonschema:"enum=,enum=azure-blob"`
	// AzureBlob is the container that holds the lease and the notification log.
	AzureBlob AzureBlob `yaml:"azureBlob"`
	// LeaseDuration is how long the leader's lease lasts unrenewed: how soon a standby takes over
	// from a leader that died (Azure allows 15s..60s).
	LeaseDuration time.Duration `yaml:"leaseDuration"`
	// Identity names this replica to the others and on the page; default the host name.
	Identity string `yaml:"identity"`
}

// AzureBlob is an Azure Storage container, and how purgewatch signs in to it.
type AzureBlob struct {
	// ServiceURL is the account's blob endpoint, https://<account>.blob.core.windows.net/.
	ServiceURL string `yaml:"serviceURL"`
	// Container holds the lease blob and the notification log; it must exist.
	Container string `yaml:"container"`
	// Auth is default | managed-identity | workload-identity | shared-key (the emulator).
	Auth string `yaml:"auth" jsonschema:"enum=default,enum=managed-identity,enum=workload-identity,enum=shared-key"`
	// ClientID picks a user-assigned managed identity, or the workload identity's application.
	ClientID string `yaml:"clientId"`
	// AccountName and AccountKey serve shared-key.
	AccountName string `yaml:"accountName"`
	AccountKey  string `yaml:"accountKey"`
}

// HA backends and blob auth modes.
const (
	HAAzureBlob    = "azure-blob"
	BlobAuthShared = "shared-key"
)

// containerName is Azure's rule for a container's name.
var containerName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)

func haDefaults(h *HA) {
	if h.LeaseDuration == 0 {
		h.LeaseDuration = 15 * time.Second
	}
	if h.AzureBlob.Auth == "" {
		h.AzureBlob.Auth = AuthDefault
	}
	if h.Identity == "" {
		h.Identity, _ = os.Hostname()
	}
}

func (v *validator) ha(h *HA, channels int) {
	v.oneOf("ha.backend", h.Backend, "", HAAzureBlob)
	if h.Backend == "" {
		return
	}
	if channels == 0 {
		v.failf("ha.backend", "needs notify.channels: without a channel every replica only scans and serves, and none needs to lead")
	}
	b := h.AzureBlob
	if u, err := neturl.Parse(b.ServiceURL); b.ServiceURL == "" || err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		v.failBecause("ha.azureBlob.serviceURL", "ha.backend", "must be the storage account's blob endpoint, such as https://<account>.blob.core.windows.net/")
	} else if u.Scheme == "http" && b.Auth != BlobAuthShared {
		v.failf("ha.azureBlob.serviceURL", "plain http is allowed only with auth: shared-key (the emulator); a token must not travel unencrypted")
	}
	if !containerName.MatchString(b.Container) {
		v.failf("ha.azureBlob.container", "%q is not a container name (3-63 lower-case letters, digits and single hyphens)", b.Container)
	}
	v.oneOf("ha.azureBlob.auth", b.Auth, AuthDefault, AuthManagedIdentity, AuthWorkloadIdentity, BlobAuthShared)
	if b.Auth == BlobAuthShared {
		if b.AccountName == "" {
			v.failBecause("ha.azureBlob.accountName", "ha.azureBlob.auth", "is required with auth: shared-key")
		}
		if _, err := base64.StdEncoding.DecodeString(b.AccountKey); b.AccountKey == "" || err != nil {
			v.failBecause("ha.azureBlob.accountKey", "ha.azureBlob.auth", "must be the account's key (base64) with auth: shared-key")
		}
	}
	if d := h.LeaseDuration; d < 15*time.Second || d > 60*time.Second {
		v.failf("ha.leaseDuration", "%s is outside 15s..60s (what Azure leases allow)", d)
	}
	if h.Identity == "" {
		v.failf("ha.identity", "is empty and the host has no name: name this replica")
	}
}
