package logging

import (
	"strings"
	"testing"

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
