package main

import (
	"runtime/debug"
	"strings"

	"github.com/prometheus/common/version"
)

// The build's version, as the Prometheus stack reports it: set at build time with
//
//	-ldflags "-X github.com/prometheus/common/version.Version=1.2.3 -X github.com/prometheus/common/version.Revision=abc"
//
// and otherwise read from the module (`go install ...@v1.2.3` says v1.2.3; a build in a git
// checkout, its pseudo-version) and the VCS stamp Go writes into every binary.
func init() {
	if version.Version != "" {
		return
	}
	version.Version = "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version.Version = strings.TrimPrefix(bi.Main.Version, "v")
	}
}
