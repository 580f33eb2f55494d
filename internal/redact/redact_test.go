package redact

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func TestURLShowsOnlySchemeAndHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/tok": "https://hooks.slack.com/…",
		"http://user:pass@am:9093/":                  "http://am:9093",
		"https://example.com/hook?token=abc":         "https://example.com/…",
		"not a url":                                  Mask,
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Userinfo("http://u:secretpw@am:9093/x"); strings.Contains(got, "secretpw") || !strings.Contains(got, "am:9093/x") {
		t.Errorf("Userinfo = %q", got)
	}
}

func TestSetMasksEveryFormOfASecret(t *testing.T) {
	var s Set
	s.Replace(Parts("https://hooks.example/services/T0/B0/tok+en/x y")...)
	s.Add("p\"w<d>1234", "ab") // too short to mask: "ab"
	var out bytes.Buffer
	w := s.Writer(&out)
	for _, line := range []string{
		`POST https://hooks.example/services/T0/B0/tok+en/x y: refused`,
		`path /services/T0/B0/tok+en/x%20y`,    // as a *url.Error prints it
		`{"password":"p\"w\u003cd\u003e1234"}`, // JSON-escaped, as zap writes it
		`{"password":"p\"w<d>1234"}`,
		`about ab`,
	} {
		_, _ = w.Write([]byte(line + "\n"))
	}
	got := out.String()
	for _, leak := range []string{"tok+en", "x%20y", `p\"w`, "p\"w<d>", "T0/B0"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q leaked:\n%s", leak, got)
		}
	}
	if !strings.Contains(got, "about ab") || strings.Count(got, Mask) < 4 {
		t.Errorf("masked output:\n%s", got)
	}
}

// A receiver that echoes a part of a secret leaks nothing: a Slack token alone, a Teams
// Workflows sig, Basic auth's base64(user:password), SMTP AUTH PLAIN's base64. A version or a
// date in the query, and the words of a path, stay readable.
func TestSetMasksThePartsAReceiverEchoes(t *testing.T) {
	var s Set
	s.Replace(Parts("https://hooks.slack.com/services/T0123456/B0123456/slackToken1234567890")...)
	s.Add(Parts("https://prod.westus.logic.azure.com/workflows/0a1b2c3d4e5f/triggers/manual/paths/invoke?api-version=2016-06-01&sig=teamsSig_abcDEF123")...)
	s.Add(Password("http://amuser:amPassword99@am:9093")...)
	s.Add("smtpPassw0rd", "\x00purgewatch\x00smtpPassw0rd")
	echoes := map[string]string{
		"the Slack token alone":    "invalid_token slackToken1234567890",
		"a Slack id":               "no such team T0123456",
		"the Teams sig":            "bad signature teamsSig_abcDEF123",
		"Basic auth's base64":      "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("amuser:amPassword99")),
		"AUTH PLAIN's base64":      "535 bad credentials " + base64.StdEncoding.EncodeToString([]byte("\x00purgewatch\x00smtpPassw0rd")),
		"AUTH LOGIN's base64":      "334 " + base64.StdEncoding.EncodeToString([]byte("smtpPassw0rd")),
		"the Teams workflow id":    "workflow 0a1b2c3d4e5f is disabled",
		"a URL-safe base64 of one": base64.RawURLEncoding.EncodeToString([]byte("slackToken1234567890")),
	}
	for what, echo := range echoes {
		if got := s.String(echo); !strings.Contains(got, Mask) {
			t.Errorf("%s leaked: %q", what, got)
		}
	}
	if got := s.String("api-version=2016-06-01 /services/ /triggers/manual/paths/invoke"); strings.Contains(got, Mask) {
		t.Errorf("readable words masked: %q", got)
	}
}
