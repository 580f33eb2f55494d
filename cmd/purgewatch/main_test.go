package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func requireTool(t *testing.T, name string) string { return testtool.Require(t, name) }
