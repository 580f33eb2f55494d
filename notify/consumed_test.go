package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

func consumedVersion() scanner.ConsumedVersion {
	return scanner.ConsumedVersion{Kind: scanner.ConsumedCommunity, ID: "/CommunityGalleries/contoso-public-1a2b/Images/ubuntu-hardened/Versions/1.0.3",
		Gallery: "contoso-public-1a2b", Image: "ubuntu-hardened", Version: "1.0.3", Location: "westeurope", State: "SoftDeleted",
		ConsumptionEndsAt: t0.Add(36 * time.Hour), Workloads: []string{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web"}}
}

// A scale set on a community image whose publisher soft-deleted it: every channel is told once,
// in a message of its own, which version, from whose gallery, when scale-outs fail, what uses it,
// and that only the publisher can recover it; the next scan says nothing more.
func TestAnImageAnotherPublisherDeletedIsAnnouncedOnce(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	snap := snapshot(t0)
	snap.Consumed = []scanner.ConsumedVersion{consumedVersion()}
	for range 2 {
		if err := h.n.Announce(t.Context(), snap, nil, scanner.Coverage{Complete: true, Since: t0}); err != nil {
			t.Fatal(err)
		}
		h.n.deliverAll(t.Context())
		h.clock.Advance(15 * time.Minute)
	}
	events := rx.webhookEvents(t)
	if len(events) != 1 || events[0].Type != KindConsumedDeleted || events[0].Consumed == nil || events[0].Consumed.ID != consumedVersion().ID || events[0].Version != nil {
		t.Fatalf("the webhook got %+v: one consumed-deleted event, with the version it is about", events)
	}

	e := Event{ID: "c", Kind: KindConsumedDeleted, Severity: severityCritical, Consumed: &snap.Consumed[0], Workloads: snap.Consumed[0].Workloads}
	for _, typ := range people {
		text := readAs(t, typ, []Event{e})
		subject, _, _ := strings.Cut(text, "\n")
		if want := "1 image version your workloads use was deleted by its publisher: new VMs and scale-outs fail in 1d 12h (2026-11-29 00:00 UTC)"; !strings.Contains(subject, want) {
			t.Errorf("%s headline %q, want %q", typ, subject, want)
		}
		for _, want := range []string{"contoso-public-1a2b/ubuntu-hardened/1.0.3, from a community gallery (westeurope), was soft-deleted by its publisher",
			"virtualMachineScaleSets/web", "Only its publisher can bring it back"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", typ, want, text)
			}
		}
		if strings.Contains(text, "resource group") || strings.Contains(text, "recover: ") || strings.Contains(text, "…") {
			t.Errorf("%s speaks of the estate's own versions, or is cut short:\n%s", typ, text)
		}
	}
	am := (&alertmanager{lead: time.Hour}).alerts(Message{Events: []Event{e}, Now: t0})
	if len(am) != 1 || am[0].Labels["alertname"] != AlertConsumedDeleted || am[0].Labels["kind"] != "community" ||
		am[0].Annotations["consumption_end"] != "2026-11-29T00:00:00Z" || !strings.Contains(am[0].Annotations["workloads"], "/web") {
		t.Errorf("Alertmanager gets %+v", am)
	}
}

// A version Azure no longer has says so, and that its workloads break now.
func TestAConsumedVersionNoLongerThereSaysSo(t *testing.T) {
	c := consumedVersion()
	c.State, c.ConsumptionEndsAt = scanner.StateNotFound, time.Time{}
	text := consumedText(t0, Event{Consumed: &c})
	if want := "is no longer there (purged, or no longer shared with you): new VMs and scale-outs from it fail now"; !strings.Contains(text, want) {
		t.Errorf("%q lacks %q", text, want)
	}
}
