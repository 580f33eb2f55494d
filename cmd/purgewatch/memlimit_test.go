package main

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.uber.org/zap"
)

func TestTheMemoryLimitFollowsTheContainers(t *testing.T) {
	for _, env := range []string{"GOMEMLIMIT", "AUTOMEMLIMIT"} {
		t.Setenv(env, "") // restored after the test
		_ = os.Unsetenv(env)
	}
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	pod := func() (uint64, error) { return 128 << 20, nil }

	if got, want := limitMemory(pod, zap.NewNop()), int64(128<<20)*9/10; got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("a 128 MiB container: limit %d (runtime %d), want %d", got, debug.SetMemoryLimit(-1), want)
	}

	debug.SetMemoryLimit(before)
	if got := limitMemory(func() (uint64, error) { return 0, memlimit.ErrNoLimit }, zap.NewNop()); got != 0 || debug.SetMemoryLimit(-1) != before {
		t.Errorf("no container limit: set %d, runtime %d", got, debug.SetMemoryLimit(-1))
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	if got := limitMemory(pod, zap.NewNop()); got != 0 || debug.SetMemoryLimit(-1) != before {
		t.Errorf("GOMEMLIMIT must win: set %d, runtime %d", got, debug.SetMemoryLimit(-1))
	}
	_ = os.Unsetenv("GOMEMLIMIT")
	t.Setenv("AUTOMEMLIMIT", "off")
	if got := limitMemory(pod, zap.NewNop()); got != 0 || debug.SetMemoryLimit(-1) != before {
		t.Errorf("AUTOMEMLIMIT=off must leave it alone: set %d", got)
	}
}
