package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func requireTool(t *testing.T, name string) string { return testtool.Require(t, name) }

// config (the file's vocabulary) and arm (which builds the credential) spell the auth modes
// apart, so that arm needs no config; this holds them together.
func TestAuthModesAreSpelledTheSameInConfigAndArm(t *testing.T) {
	for cfgMode, armMode := range map[string]string{config.AuthDefault: arm.AuthDefault, config.AuthWorkloadIdentity: arm.AuthWorkloadIdentity,
		config.AuthManagedIdentity: arm.AuthManagedIdentity, config.AuthAzureCLI: arm.AuthAzureCLI,
		config.AuthClientSecret: arm.AuthClientSecret, config.AuthNone: arm.AuthNone} {
		if cfgMode != armMode {
			t.Errorf("config %q, arm %q", cfgMode, armMode)
		}
	}
}

// The daemon and the notifier's liveness checks ask for the scanner of the same configuration:
// they must get one, and so one pipeline and one read budget per subscription.
func TestOneScannerPerConfiguration(t *testing.T) {
	set := &scannerSet{}
	a, b := config.Default(), config.Default()
	first, err := set.For(&a)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := set.For(&a); again != first {
		t.Error("the same configuration got a second scanner")
	}
	if other, _ := set.For(&b); other == first {
		t.Error("a reloaded configuration kept the old scanner")
	}
}
