package arm

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/purgewatch/purgewatch/internal/config"
)

// Credential returns the token source a config asks for; nil for auth: none, which makes the SDK
// send no Authorization header at all (for simulators on plain http).
func Credential(a config.Azure) (azcore.TokenCredential, error) {
	return credential(a, nil)
}

// credential takes the transport tokens are fetched with (nil: the default), for tests.
func credential(a config.Azure, transport policy.Transporter) (azcore.TokenCredential, error) {
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
	case config.AuthNone:
		return nil, nil
	case config.AuthDefault, "":
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co, TenantID: a.TenantID})
	case config.AuthWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, ClientID: a.ClientID, TenantID: a.TenantID})
	case config.AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if a.ClientID != "" {
			o.ID = azidentity.ClientID(a.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(o)
	case config.AuthAzureCLI:
		cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID})
	case config.AuthClientSecret:
		cred, err = azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, a.ClientSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: co})
	default:
		return nil, fmt.Errorf("unknown azure.auth %q", a.Auth)
	}
	if err != nil {
		return nil, fmt.Errorf("creating %s credential: %w", a.Auth, err)
	}
	return cred, nil
}
