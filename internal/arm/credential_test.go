package arm

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

func TestAuthNoneSendsNoToken(t *testing.T) {
	cred, err := Credential(Identity{Auth: AuthNone})
	if err != nil || cred != nil {
		t.Fatalf("auth none = %v, %v", cred, err)
	}
}

// recorder is a transport that notes the host of each request, sends nothing, and answers 400
// (which nothing retries).
type recorder struct{ hosts []string }

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.hosts = append(r.hosts, req.URL.Host)
	return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(`{"error":"invalid_request"}`)), Request: req}, nil
}

// TestTokensComeFromTheConfiguredCloud: a China or US Government identity must not ask the
// public cloud's authority for its token.
func TestTokensComeFromTheConfiguredCloud(t *testing.T) {
	for cloud, want := range map[string]string{"public": "login.microsoftonline.com",
		"china": "login.chinacloudapi.cn", "usgovernment": "login.microsoftonline.us"} {
		rec := &recorder{}
		cred, err := credential(Identity{Auth: AuthClientSecret, Cloud: cloud,
			TenantID: "00000000-0000-0000-0000-000000000001", ClientID: "c", ClientSecret: "s"}, rec)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
		if len(rec.hosts) == 0 || rec.hosts[0] != want {
			t.Errorf("%s: token requests went to %v, want %s", cloud, rec.hosts, want)
		}
	}
}
