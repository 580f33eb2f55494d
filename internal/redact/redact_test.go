package redact

import (
	"bytes"
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
