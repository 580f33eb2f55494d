package testtool

import (
	"context"
	"strconv"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/purgewatch/purgewatch/internal/config"
)

// AzuriteAccount and AzuriteKey are the emulator's well-known development account.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite starts the Azure Storage emulator's blob service, in memory, for the test, and returns
// a container made for it as the ha section names one.
func Azurite(t testing.TB, containerName string) config.AzureBlob {
	t.Helper()
	path := Require(t, "azurite-blob")
	dir := t.TempDir()
	ports := ServeAnswering(t, 1, path, func(p []int) (string, []string) {
		return URL(p[0]) + "/" + AzuriteAccount, []string{"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(p[0]),
			"--skipApiVersionCheck", "--disableTelemetry", "--silent", "--location", dir}
	})
	b := config.AzureBlob{ServiceURL: URL(ports[0]) + "/" + AzuriteAccount, Container: containerName,
		Auth: config.BlobAuthShared, AccountName: AzuriteAccount, AccountKey: AzuriteKey}
	cred, err := container.NewSharedKeyCredential(AzuriteAccount, AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := container.NewClientWithSharedKeyCredential(b.ServiceURL+"/"+containerName, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(context.Background(), nil); err != nil {
		t.Fatalf("creating the container %s in Azurite: %v", containerName, err)
	}
	return b
}
