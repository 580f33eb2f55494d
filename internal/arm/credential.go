package arm

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Identity is who purgewatch is to ARM: the azure.auth mode and the settings some modes take.
type Identity struct {
	// Auth is default | workload-identity | managed-identity | azure-cli | client-secret | none.
	Auth  string
	Cloud string // public | china | usgovernment
	// TenantID, ClientID and ClientSecret serve client-secret (all three) and managed-identity
	// (ClientID of a user-assigned identity); elsewhere azidentity reads its own variables.
	TenantID, ClientID, ClientSecret string
}

// Auth modes, as azure.auth spells them.
const (
	AuthDefault          = "default"
	AuthWorkloadIdentity = "workload-identity"
	AuthManagedIdentity  = "managed-identity"
	AuthAzureCLI         = "azure-cli"
	AuthClientSecret     = "client-secret"
	AuthNone             = "none"
)

// Credential returns the token source an identity asks for; nil for auth: none, which makes the
// SDK send no Authorization header at all (for simulators on plain http).
func Credential(a Identity) (azcore.TokenCredential, error) {
	return credential(a, nil)
}

// credential takes the transport tokens are fetched with (nil: the default), for tests.
func credential(a Identity, transport policy.Transporter) (azcore.TokenCredential, error) {
	var (
		cred azcore.TokenCredential
		err  error
	)
	c, err := cloudConfig(a.Cloud, "")
	if err != nil {
		return nil, err
	}
	// Tokens come from the sovereign cloud's own authority (login.chinacloudapi.cn, ...).
	co := azcore.ClientOptions{Cloud: c, Transport: transport}
	switch a.Auth {
	case AuthNone:
		return nil, nil
	case AuthDefault, "":
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co, TenantID: a.TenantID})
	case AuthWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, ClientID: a.ClientID, TenantID: a.TenantID})
	case AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if a.ClientID != "" {
			o.ID = azidentity.ClientID(a.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(o)
	case AuthAzureCLI:
		cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID})
	case AuthClientSecret:
		cred, err = azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, a.ClientSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: co})
	default:
		return nil, fmt.Errorf("unknown azure.auth %q", a.Auth)
	}
	if err != nil {
		return nil, fmt.Errorf("creating %s credential: %w", a.Auth, err)
	}
	return cred, nil
}
