package arm

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/purgewatch/purgewatch/internal/config"
)

// Credential returns the token source a config asks for; nil for auth: none, which makes the SDK
// send no Authorization header at all (for simulators on plain http).
func Credential(a config.Azure) (azcore.TokenCredential, error) {
	var (
		cred azcore.TokenCredential
		err  error
	)
	switch a.Auth {
	case config.AuthNone:
		return nil, nil
	case config.AuthDefault, "":
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: a.TenantID})
	case config.AuthWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientID: a.ClientID, TenantID: a.TenantID})
	case config.AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{}
		if a.ClientID != "" {
			o.ID = azidentity.ClientID(a.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(o)
	case config.AuthAzureCLI:
		cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID})
	case config.AuthClientSecret:
		cred, err = azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, a.ClientSecret, nil)
	default:
		return nil, fmt.Errorf("unknown azure.auth %q", a.Auth)
	}
	if err != nil {
		return nil, fmt.Errorf("creating %s credential: %w", a.Auth, err)
	}
	return cred, nil
}
