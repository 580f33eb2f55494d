package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

// benchBody is an event as the outbox carries it, about 1 KB like notify's: the version's
// document with its deadlines, triage and deleter.
func benchBody(i int) json.RawMessage {
	id := fmt.Sprintf("/subscriptions/1f0c3a52-6d0e-4b8e-9a51-2a7c3e5d9b01/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/prod/images/app-%d/versions/1.0.%d", i/20, i%20)
	body, _ := json.Marshal(map[string]any{
		"id": fmt.Sprintf("%016x", uint64(i)*0x9E3779B97F4A7C15), "type": "deleted", "severity": "warning", "judged": true,
		"reasons": []string{"newest"}, "version": map[string]any{
			"id": id, "subscriptionId": "1f0c3a52-6d0e-4b8e-9a51-2a7c3e5d9b01", "resourceGroup": "rg-images", "gallery": "prod",
			"image": fmt.Sprintf("app-%d", i/20), "version": fmt.Sprintf("1.0.%d", i%20), "location": "westeurope",
			"softDeletedAt": time.Date(2026, 12, 1, 3, 0, i%60, 0, time.UTC), "consumptionEndsAt": time.Date(2026, 12, 6, 3, 0, i%60, 0, time.UTC),
			"purgeAt": time.Date(2026, 12, 8, 3, 0, i%60, 0, time.UTC), "purgeAtSource": "policy", "retainedBytes": 64424509440,
			"deletedBy": map[string]any{"caller": "pipeline@contoso.com", "principalType": "ServicePrincipal", "appId": "9f3b1c2d-0000-4000-8000-00000000c0de",
				"clientIp": "203.0.113.7", "at": time.Date(2026, 12, 1, 3, 0, i%60, 0, time.UTC), "correlationId": fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i)},
		}})
	return body
}

// BenchmarkTheSharedLog: the writes of a first scan that announces every version to a webhook
// (messages of 100 events, as notify makes them), each message's send recorded (begun, then
// delivered), and the compaction that follows, against Azurite. PURGEWATCH_HA_VERSIONS sets the
// versions (100,000). Run with -benchtime 1x -count 3 and quote the medians (docs/benchmarks.md).
func BenchmarkTheSharedLog(b *testing.B) {
	versions := 100000
	if v, err := strconv.Atoi(os.Getenv("PURGEWATCH_HA_VERSIONS")); err == nil {
		versions = v
	}
	blob := testtool.Azurite(b, "purgewatch")
	var messages []state.Message
	for i := 0; i < versions; i += 100 {
		m := state.Message{Channel: "hook"}
		for j := i; j < min(i+100, versions); j++ {
			m.Events = append(m.Events, state.Event{ID: strconv.Itoa(j), Kind: "deleted", Subject: strconv.Itoa(j), Body: benchBody(j),
				Change: state.OpensVersion, Version: benchBody(j), Severity: "warning"})
		}
		messages = append(messages, m)
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var floor, enqueue, deliver, compact time.Duration
	var logBytes, snapshotBytes int64
	var writes []time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c := blob
		c.Container = fmt.Sprintf("bench-%d", i)
		cont, err := Container(c, 30*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cont.Create(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		r := start(b, c, "a")
		wait(b, r.led, 10*time.Second, "a to lead")

		// The floor: the same messages into a state file alone, as one replica queues them.
		alone, err := state.Open(b.TempDir() + "/alone.db")
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := alone.Enqueue(messages, now); err != nil {
			b.Fatal(err)
		}
		floor = time.Since(t0)
		_ = alone.Close()
		b.StartTimer()

		t0 = time.Now()
		if err := r.Log.Enqueue(messages, now); err != nil {
			b.Fatal(err)
		}
		enqueue = time.Since(t0)
		logBytes, _ = r.Log.weight()
		t0 = time.Now()
		writes = writes[:0]
		for {
			p, err := r.Log.Head("hook")
			if err != nil || p == nil {
				break
			}
			w := time.Now()
			if _, err := r.Log.Attempting("hook", p); err != nil {
				b.Fatal(err)
			}
			writes = append(writes, time.Since(w))
			w = time.Now()
			if err := r.Log.Delivered("hook", p, nil, now); err != nil {
				b.Fatal(err)
			}
			writes = append(writes, time.Since(w))
		}
		deliver = time.Since(t0)
		t0 = time.Now()
		r.Log.mu.Lock()
		err = r.Log.compactLocked(context.Background())
		r.Log.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		compact = time.Since(t0)
		_, snapshotBytes = r.Log.weight()
		b.StopTimer()
		r.stop()
		b.StartTimer()
	}
	slices.Sort(writes)
	b.ReportMetric(float64(logBytes)/float64(versions), "log-B/version")
	b.ReportMetric(float64(snapshotBytes)/float64(versions), "snapshot-B/version")
	b.ReportMetric(enqueue.Seconds()*1000, "enqueue-ms")
	b.ReportMetric(floor.Seconds()*1000, "enqueue-alone-ms")
	b.ReportMetric(deliver.Seconds()*1000/float64(len(messages)), "ms/message-sent")
	b.ReportMetric(float64(writes[len(writes)/2].Microseconds())/1000, "median-write-ms")
	b.ReportMetric(compact.Seconds()*1000, "compact-ms")
}
