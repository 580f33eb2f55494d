package recovery

import (
	"os/exec"
	"strings"
	"testing"
)

func TestRecoverCommandQuotesAndRefusesIdsThatAreNotWellFormed(t *testing.T) {
	id := "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-(prod).1/providers/Microsoft.Compute/galleries/g_1.x/images/img-1/versions/1.2.3"
	cmd, ok := RecoverCommand("https://management.azure.com/", id)
	want := `az rest --method patch --url 'https://management.azure.com` + id + `?api-version=2026-03-03' --body '{"properties":{"restore":true,"storageProfile":{}}}'`
	if !ok || cmd != want {
		t.Errorf("RecoverCommand = %q, %v\nwant %q", cmd, ok, want)
	}
	for _, bad := range []string{
		"", "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0",
		strings.Replace(id, "g_1.x", "g'; rm -rf ~; '", 1), strings.Replace(id, "img-1", "img $(id)", 1),
		strings.Replace(id, "1.2.3", "1.2.3\n", 1), id + "/../../x", strings.Replace(id, "rg-(prod).1", "rg`id`", 1),
	} {
		if cmd, ok := RecoverCommand("https://management.azure.com", bad); ok || cmd != "" {
			t.Errorf("%q gave a command: %q", bad, cmd)
		}
	}
}

func TestShellQuoteSurvivesAShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal("no sh: ", err)
	}
	for _, s := range []string{"plain", "it's", "$(id) `id` ; & | \" ' \\ \n", "''"} {
		out, err := exec.Command(sh, "-c", "printf %s "+ShellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh read %q back as %q (%v)", s, out, err)
		}
	}
}
