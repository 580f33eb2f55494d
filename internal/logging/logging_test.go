package logging

import (
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

// A reload to debug lets debug lines through at once; a refused level changes nothing.
func TestAReloadChangesTheLevelInPlace(t *testing.T) {
	var out testtool.SyncBuffer
	log, level := New(config.Log{Level: "info", Format: "json"}, &out)
	log.Debug("before")
	apply, err := level.Prepare(nil, &config.Config{Log: config.Log{Level: "debug"}})
	if err != nil {
		t.Fatal(err)
	}
	apply()
	log.Debug("after")
	if _, err := level.Prepare(nil, &config.Config{Log: config.Log{Level: "loud"}}); err == nil {
		t.Error("level loud prepared")
	}
	if got := out.String(); strings.Contains(got, "before") || !strings.Contains(got, `"msg":"after"`) {
		t.Errorf("log:\n%s", got)
	}
}

// TestLogfmtIsThePrometheusStacks: ts, level and msg keys, values quoted where they need it, as
// Prometheus and Alertmanager write their logs.
func TestLogfmtIsThePrometheusStacks(t *testing.T) {
	var out testtool.SyncBuffer
	log, _ := New(config.Log{Level: "info", Format: "logfmt"}, &out)
	log.Named("daemon").Info("scan finished", zap.String("result", "success"), zap.Int("versions", 10), zap.String("error", "a b"))
	line := out.String()
	for _, want := range []string{"ts=", "level=info", "logger=daemon", `msg="scan finished"`, "result=success", "versions=10", `error="a b"`} {
		if !strings.Contains(line, want) {
			t.Errorf("logfmt line lacks %s: %s", want, line)
		}
	}
	if strings.Contains(line, "{") {
		t.Errorf("not logfmt: %s", line)
	}
}
