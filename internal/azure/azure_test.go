package azure

import (
	"testing"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/config"
)

// config (the file's vocabulary) and arm (which builds the credential) spell the auth modes
// apart, so that arm needs no config; Connect hands one to the other, and this holds them together.
func TestAuthModesAreSpelledTheSameInConfigAndArm(t *testing.T) {
	for cfgMode, armMode := range map[string]string{config.AuthDefault: arm.AuthDefault, config.AuthWorkloadIdentity: arm.AuthWorkloadIdentity,
		config.AuthManagedIdentity: arm.AuthManagedIdentity, config.AuthAzureCLI: arm.AuthAzureCLI,
		config.AuthClientSecret: arm.AuthClientSecret, config.AuthNone: arm.AuthNone} {
		if cfgMode != armMode {
			t.Errorf("config %q, arm %q", cfgMode, armMode)
		}
	}
}

// The daemon scans with, and the notifier asks liveness of, the one scanner in effect: one
// pipeline and one read budget per subscription. A reload builds the next one, which takes
// effect only when the reload is applied.
func TestOneScannerInEffect(t *testing.T) {
	a, b := config.Default(), config.Default()
	set, err := NewInEffect(&a, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := set.current.Load()
	apply, err := set.Prepare(&a, &b)
	if err != nil {
		t.Fatal(err)
	}
	if set.current.Load() != first {
		t.Error("a reload that was only prepared replaced the scanner in effect")
	}
	apply()
	if set.current.Load() == first {
		t.Error("a reloaded configuration kept the old scanner")
	}
}
