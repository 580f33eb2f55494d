package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/internal/testtool"
	"github.com/purgewatch/purgewatch/notify"
)

// TestABlindDaemonTellsEveryChannel: with subscription discovery and a credential that stops
// working after the first scan, the scans go on failing; an hour after the last complete scan the
// log channel gets one scan-failing event naming the service's error, and nothing more until the
// credential works again, which sends one scan-recovered.
func TestABlindDaemonTellsEveryChannel(t *testing.T) {
	out := &testtool.SyncBuffer{}
	var n *notify.Notifier
	f := newFixtureWith(t, armsim.Options{}, "", func(o *Options, fc *clock.Fake) {
		file, err := state.Open(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = file.Close() })
		ch, err := notify.NewChannel(config.Channel{Name: "stdout", Type: config.ChannelLog}, notify.Deps{Log: out})
		if err != nil {
			t.Fatal(err)
		}
		n = notify.New(file, notify.Settings{Channels: []notify.Channel{ch}, Thresholds: []time.Duration{time.Minute},
			Retry: config.Retry{Initial: time.Second, Max: time.Minute}, BlindAfter: time.Hour}, fc, nil, nil)
		o.Announcer = n
	})
	ctx, stop := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	workers.Go(func() { n.Run(ctx) })
	t.Cleanup(func() { stop(); workers.Wait() })
	// scan runs one scan and waits for its messages to be delivered: the outbox empties once the
	// worker has written them and recorded it.
	scan := func(after time.Duration) {
		f.clock.Advance(after)
		f.d.ScanOnce(context.Background())
		testtool.Eventually(t, 10*time.Second, "the outbox delivered", func() bool {
			letters, err := n.Letters("")
			return err == nil && len(letters) == 0
		})
	}
	scanFailing := func() int { return strings.Count(out.String(), `"type":"scan-failing"`) }

	scan(0) // complete, at t0
	f.sim.Inject(armsim.Fault{Scope: "/subscriptions", Status: 401, Code: "InvalidAuthenticationToken", Message: "The access token has expired."})
	scan(30 * time.Minute)
	if scanFailing() != 0 {
		t.Fatalf("scan-failing before blindAfter:\n%s", out.String())
	}
	scan(31 * time.Minute)
	scan(15 * time.Minute)
	if scanFailing() != 1 || !strings.Contains(out.String(), "InvalidAuthenticationToken") || !strings.Contains(out.String(), `"since":"2026-11-27T12:00:00Z"`) {
		t.Fatalf("want one scan-failing event since t0 with the service's code:\n%s", out.String())
	}
	f.sim.Clear() // the credential works again
	scan(15 * time.Minute)
	if got := strings.Count(out.String(), `"reason":"scan-recovered"`); got != 1 || scanFailing() != 1 {
		t.Fatalf("%d scan-recovered events after a complete scan, want 1:\n%s", got, out.String())
	}
}
