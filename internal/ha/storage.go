package ha

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/purgewatch/purgewatch/internal/config"
)

// Container connects to the configured container. Requests are retried by the SDK only within
// tryTimeout: a lease that is not renewed in time must fail fast, not wait out a long retry.
func Container(b config.AzureBlob, tryTimeout time.Duration) (*container.Client, error) {
	url := strings.TrimSuffix(b.ServiceURL, "/") + "/" + b.Container
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Retry:     policy.RetryOptions{MaxRetries: 2, TryTimeout: tryTimeout, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: time.Second},
		Transport: &http.Client{Timeout: 2 * tryTimeout},
	}}
	if b.Auth == config.BlobAuthShared {
		cred, err := container.NewSharedKeyCredential(b.AccountName, b.AccountKey)
		if err != nil {
			return nil, fmt.Errorf("ha.azureBlob: shared key of %s: %w", b.AccountName, err)
		}
		return container.NewClientWithSharedKeyCredential(url, cred, opts)
	}
	var (
		cred azcore.TokenCredential
		err  error
	)
	switch b.Auth {
	case config.AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{}
		if b.ClientID != "" {
			o.ID = azidentity.ClientID(b.ClientID)
		}
		cred, err = azidentity.NewManagedIdentityCredential(o)
	case config.AuthWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientID: b.ClientID})
	default:
		cred, err = azidentity.NewDefaultAzureCredential(nil)
	}
	if err != nil {
		return nil, fmt.Errorf("ha.azureBlob: %s credential: %w", b.Auth, err)
	}
	return container.NewClient(url, cred, opts)
}
