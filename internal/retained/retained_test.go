package retained_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/audit"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/retained"
	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/scanner"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const sub = "11111111-1111-1111-1111-111111111111"

// TestADeletedVersionRetainsWhatItHeldLive: a version seen live (a 30 GB OS disk and a 100 GB
// data disk's worth of size, in two regions) is known, once deleted, to keep 260 GB billed; the
// size outlives a restart, and is forgotten once the version has left the recycle bin.
func TestADeletedVersionRetainsWhatItHeldLive(t *testing.T) {
	e := armsim.Estate{Subscriptions: []armsim.Subscription{{ID: sub, Galleries: []armsim.Gallery{{
		Name: "prod", ResourceGroup: "rg", Location: "West Europe", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true},
		Images: []armsim.Image{{Name: "web", Versions: []string{"1.0.0", "2.0.0"}, SizeGB: 130, Regions: []string{"North Europe"}}}}}}}}
	fc := clock.NewFake(t0)
	sim := armsim.New(e, armsim.Options{Clock: fc})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	pl, err := arm.New(arm.Options{Endpoint: srv.URL, Clock: fc, RetryDelay: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	sc := scanner.New(scanner.Options{Pipeline: pl, Clock: fc})
	file, err := state.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	scan := func(m *retained.Memory) *scanner.Snapshot {
		t.Helper()
		snap, err := sc.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		report, _ := audit.Run(context.Background(), sc, snap, 7, fc.Now())
		m.Mark(snap, report.Sizes)
		return snap
	}
	m := retained.New(file, nil)
	scan(m) // both live: their sizes are seen
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/subscriptions/"+sub+"/resourceGroups/rg/providers/Microsoft.Compute/galleries/prod/images/web/versions/1.0.0?api-version=2025-03-03", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("delete: %v %v", resp, err)
	}
	snap := scan(retained.New(file, nil)) // a restarted purgewatch
	if len(snap.Versions) != 1 || snap.Versions[0].RetainedBytes != 260<<30 {
		t.Fatalf("the deleted version retains %d bytes, want 260 GiB (130 GiB in two regions)", snap.Versions[0].RetainedBytes)
	}
	stored, _ := file.LoadSizes()
	if len(stored) != 2 {
		t.Errorf("%d sizes kept, want the live version's and the deleted one's", len(stored))
	}
	sim.SetEstate(armsim.Estate{Subscriptions: []armsim.Subscription{{ID: sub, Galleries: []armsim.Gallery{{
		Name: "prod", ResourceGroup: "rg", Location: "West Europe", SoftDelete: &armsim.SoftDeletePolicy{Enabled: true}}}}}})
	scan(m)
	if stored, _ = file.LoadSizes(); len(stored) != 0 {
		t.Errorf("%d sizes kept after every version went", len(stored))
	}
}

// mapStore is a Store in memory.
type mapStore map[string][]byte

func (s mapStore) LoadSizes() (map[string][]byte, error) { return maps.Clone(s), nil }
func (s mapStore) SaveSizes(put map[string][]byte, drop []string) error {
	for _, k := range drop {
		delete(s, k)
	}
	maps.Copy(s, put)
	return nil
}

// A size kept in the older form (hex key, decimal bytes) is read, then written anew in 12 + 5
// bytes, and the older record dropped.
func TestASizeOfTheOlderFormIsKeptAndRewritten(t *testing.T) {
	v := scanner.Version{Definition: &scanner.Definition{SubscriptionID: sub, ResourceGroup: "rg", Gallery: "prod", Image: "web"}, Version: "1.0.0"}
	sum := sha256.Sum256([]byte(strings.ToLower(v.ID())))
	older := hex.EncodeToString(sum[:12])
	store := mapStore{older: []byte("279172874240")}
	snap := &scanner.Snapshot{Versions: []scanner.Version{v}}
	retained.New(store, nil).Mark(snap, nil)
	if snap.Versions[0].RetainedBytes != 279172874240 {
		t.Errorf("the older record reads %d", snap.Versions[0].RetainedBytes)
	}
	if _, ok := store[older]; ok || len(store) != 1 {
		t.Fatalf("the older record was not rewritten: %q", store)
	}
	for k, val := range store {
		if len(k) != 12 || len(val) > 6 {
			t.Errorf("the record is %d + %d bytes", len(k), len(val))
		}
	}
	again := &scanner.Snapshot{Versions: []scanner.Version{v}}
	retained.New(store, nil).Mark(again, nil)
	if again.Versions[0].RetainedBytes != 279172874240 {
		t.Errorf("the rewritten record reads %d", again.Versions[0].RetainedBytes)
	}
}
