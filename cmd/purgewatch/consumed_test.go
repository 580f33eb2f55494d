package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/armsim"
	"github.com/purgewatch/purgewatch/internal/testtool"
	"github.com/purgewatch/purgewatch/notify"
)

// A scale set created from a community gallery image, whose publisher soft-deletes the version:
// the next scan's audit reads it from the real SDK client against the simulator, the webhook is
// told once (which version, when scale-outs fail, the scale set), and the metrics and the page say so.
func TestRunWarnsWhenAPublisherDeletesAnImageYouConsume(t *testing.T) {
	const sub = "66666666-6666-6666-6666-666666666666"
	image := "/CommunityGalleries/contoso-public-1a2b/Images/ubuntu-hardened/Versions/1.0.3"
	estate := func(state string, end time.Time) armsim.Estate {
		return armsim.Estate{Subscriptions: []armsim.Subscription{{ID: sub,
			ScaleSets: []armsim.ScaleSet{{Name: "web", ResourceGroup: "rg", Location: "West Europe", ImageID: image}}}},
			Consumed: []armsim.ConsumedImage{{Kind: "community", Gallery: "contoso-public-1a2b", Image: "ubuntu-hardened", Version: "1.0.3",
				Location: "westeurope", State: state, ConsumptionEnd: end}}}
	}
	sim := armsim.New(estate("Active", time.Time{}), armsim.Options{})
	arm := httptest.NewServer(sim)
	defer arm.Close()
	rx := &hostileHook{}
	hook := rx.serve(t)
	dir := t.TempDir()
	cfg := hookConfig(t, dir, hook.URL, "")
	body, _ := os.ReadFile(cfg)
	body = append([]byte("azure:\n  auth: none\n  endpoint: "+arm.URL+"\nscan:\n  schedule: \"@every 1s\"\n"), body...)
	if err := os.WriteFile(cfg, body, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--config.file", cfg)
	testtool.Eventually(t, 20*time.Second, "a scan with the audit", func() bool {
		_, text := d.get(t, "/metrics")
		return strings.Contains(text, `purgewatch_audit_findings{check="workload-uses-version-its-publisher-deleted",severity="critical"} 0`)
	}, d.logs.String)
	if _, accepted := rx.counts(); accepted != 0 {
		t.Fatalf("%d messages while the image is live", accepted)
	}

	end := time.Now().Add(36 * time.Hour).UTC().Truncate(time.Second)
	sim.SetEstate(estate("SoftDeleted", end))
	testtool.Eventually(t, 20*time.Second, "the webhook told", func() bool { _, n := rx.counts(); return n > 0 }, d.logs.String)
	_, text := d.get(t, "/metrics")
	want := `purgewatch_consumed_image_version_consumption_end_timestamp_seconds{gallery="contoso-public-1a2b",image="ubuntu-hardened",kind="community",location="westeurope",version="1.0.3"}`
	if !strings.Contains(text, want) {
		t.Errorf("the metrics lack %s:\n%s", want, grep(text, "purgewatch_consumed"))
	}
	if _, page := d.get(t, "/"); !strings.Contains(page, `id="consumed"`) || !strings.Contains(page, "ubuntu-hardened") {
		t.Error("the page does not list the deleted consumed image")
	}
	_, m := d.get(t, "/metrics")
	told := scans(m)
	testtool.Eventually(t, 20*time.Second, "two more scans", func() bool {
		_, m := d.get(t, "/metrics")
		return scans(m) >= told+2
	}, d.logs.String)
	if _, n := rx.counts(); n != 1 {
		t.Errorf("the webhook was told %d times; once", n)
	}
	var last struct{ Events []notify.WebhookEvent }
	if err := json.Unmarshal([]byte(rx.last()), &last); err != nil || len(last.Events) != 1 || last.Events[0].Consumed == nil ||
		!last.Events[0].Consumed.ConsumptionEndsAt.Equal(end) || !strings.HasSuffix(last.Events[0].Consumed.Workloads[0], "/virtualMachineScaleSets/web") {
		t.Errorf("the webhook's message: %s (%v)", rx.last(), err)
	}
}

// scans is purgewatch_scans_total{result="success"} in a /metrics text.
func scans(metrics string) float64 {
	for line := range strings.SplitSeq(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, `purgewatch_scans_total{result="success"} `); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return n
		}
	}
	return 0
}
