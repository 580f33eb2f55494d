package notify

import (
	"reflect"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

// What the log keeps of an open version reads back as the resolution needs it: names, the
// deletion to the nanosecond (its key), the deadlines to the millisecond, the size, the deleter.
func TestAnOpenVersionReadsBackAsItWasAnnounced(t *testing.T) {
	v := ver("g", "1.2.3", t0.Add(36*time.Hour+1500*time.Millisecond), 2, nil)
	v.SoftDeletedAt = v.SoftDeletedAt.Add(123456789 * time.Nanosecond)
	v.RetainedBytes, v.DeletedBy = 64<<30, &scanner.Deletion{Caller: "9f3b", PrincipalName: "alice@contoso.com"}
	shared, own := encodeOpen(v)
	got, err := decodeOpen(shared, own)
	if err != nil {
		t.Fatal(err)
	}
	if versionKey(got) != versionKey(v) {
		t.Errorf("the key changed: %s, was %s", versionKey(got), versionKey(v))
	}
	if !got.PurgeAt.Equal(v.PurgeAt.Truncate(time.Millisecond)) || !got.ConsumptionEndsAt.Equal(v.ConsumptionEndsAt) ||
		got.PurgeAtSource != v.PurgeAtSource || got.RetainedBytes != v.RetainedBytes || got.DeletedBy.Who() != "alice@contoso.com" {
		t.Errorf("read back %+v from %+v", got, v)
	}
	if !reflect.DeepEqual(*got.Definition, scanner.Definition{SubscriptionID: sub, ResourceGroup: "rg", Gallery: "g", Image: "img"}) {
		t.Errorf("the definition read back is %+v", *got.Definition)
	}
	if len(own) > 40 {
		t.Errorf("a version's own bytes are %d; about 35 expected", len(own))
	}
	if _, err := decodeOpen(shared, own[:len(own)-3]); err == nil {
		t.Error("a record cut short was read")
	}
	legacy, err := decodeOpen(nil, []byte(`{"version":"9.9.9","subscriptionId":"s","gallery":"g2"}`))
	if err != nil || legacy.Version != "9.9.9" || legacy.Gallery != "g2" {
		t.Errorf("an open version of an older file: %+v, %v", legacy, err)
	}
}
