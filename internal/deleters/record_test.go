package deleters

import (
	"reflect"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// A deleter reads back as found, in about a third of its JSON's bytes, whatever its ids look like;
// a record of the older JSON form is still read.
func TestADeleterRecordReadsBackAsFound(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 4, 5, 678000000, time.UTC)
	for _, d := range []scanner.Deletion{
		{Caller: "alice@contoso.com", PrincipalType: "User", PrincipalName: "alice@contoso.com", ObjectID: "5e1f0a2b-0000-4000-8000-0000000b0b01",
			ClientIP: "203.0.113.7", At: at, CorrelationID: "c0ffee00-0000-4000-8000-000000000001"},
		{Caller: "9F3B1C2D-0000-4000-8000-00000000C0DE", PrincipalType: "ServicePrincipal", AppID: "9f3b1c2d-0000-4000-8000-00000000c0de",
			ClientIP: "2001:db8::7", At: at, CorrelationID: "not-a-guid"},
		{Caller: "mi", PrincipalType: "Workload", ClientIP: "unknown"},
	} {
		r := record{By: &d}
		got, err := decodeRecord(r.encode())
		if err != nil || !reflect.DeepEqual(*got.By, d) {
			t.Errorf("read back %+v (%v), was %+v", got.By, err, d)
		}
	}
	if n := len(record{By: &scanner.Deletion{Caller: "alice@contoso.com", PrincipalType: "User", PrincipalName: "alice@contoso.com",
		ObjectID: "5e1f0a2b-0000-4000-8000-0000000b0b01", ClientIP: "203.0.113.7", At: at, CorrelationID: "c0ffee00-0000-4000-8000-000000000001"}}.encode()); n > 100 {
		t.Errorf("a user's deletion takes %d bytes", n)
	}
	if got, err := decodeRecord(record{Unknown: settledNoEntry}.encode()); err != nil || got.Unknown != settledNoEntry || got.By != nil {
		t.Errorf("a settled unknown reads back %+v, %v", got, err)
	}
	if got, err := decodeRecord([]byte(`{"by":{"caller":"bob@contoso.com"}}`)); err != nil || got.By.Caller != "bob@contoso.com" {
		t.Errorf("a record of the older form: %+v, %v", got, err)
	}
	if _, err := decodeRecord(record{By: &scanner.Deletion{Caller: "alice"}}.encode()[:6]); err == nil {
		t.Error("a record cut short was read")
	}
}

type mapStore map[string][]byte

func (s mapStore) LoadDeleters() (map[string][]byte, error) { return s, nil }
func (s mapStore) SaveDeleters(put map[string][]byte, drop []string) error {
	for _, k := range drop {
		delete(s, k)
	}
	for k, v := range put {
		s[k] = v
	}
	return nil
}

// A record kept in the older form (hex key, JSON) is read, then written anew and dropped.
func TestADeleterOfTheOlderFormIsRewritten(t *testing.T) {
	k := digest{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	store := mapStore{"0102030405060708090a0b0c": []byte(`{"by":{"caller":"bob@contoso.com","principalType":"User"}}`)}
	f := New(nil, store, nil)
	f.load()
	if r := f.known[k]; r.By == nil || r.By.Caller != "bob@contoso.com" {
		t.Fatalf("the older record read %+v", r)
	}
	f.save(map[digest]bool{k: true})
	got, ok := store[string(k[:])]
	if _, older := store["0102030405060708090a0b0c"]; older || !ok || len(store) != 1 {
		t.Fatalf("not rewritten: %q", store)
	}
	if r, err := decodeRecord(got); err != nil || r.By.Caller != "bob@contoso.com" || r.By.PrincipalType != "User" {
		t.Errorf("the rewritten record reads %+v, %v", r.By, err)
	}
}
