package notify

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/testtool"
	"github.com/purgewatch/purgewatch/scanner"
)

// TestAlertmanagerSpeaksTheRulesVocabulary: every alert the Alertmanager channel sends has the
// name, severity, deadline, label names and runbook_url of the deploy/prometheus/rules.yaml alert
// for the same state, so that where both are in use Alertmanager sees one alert, not two.
func TestAlertmanagerSpeaksTheRulesVocabulary(t *testing.T) {
	type rule struct{ labels, annotations map[string]string }
	rules := map[string][]rule{}
	for _, r := range testtool.AlertRules(t, "../deploy/prometheus/rules.yaml") {
		rules[r.Alert] = append(rules[r.Alert], rule{r.Labels, r.Annotations})
	}

	v := ver("g", "1.0.0", t0.Add(10*time.Hour), 2, map[string]string{"owner": "alice", "team": "web"})
	v.DeletedBy = &scanner.Deletion{Caller: "alice@contoso.com", PrincipalName: "alice@contoso.com"}
	events := []Event{
		{Kind: KindExpiring, Deadline: scanner.DeadlinePurge, Severity: "warning", Version: v},
		{Kind: KindExpiring, Deadline: scanner.DeadlinePurge, Severity: "critical", Version: v},
		{Kind: KindExpiring, Deadline: scanner.DeadlineConsumptionEnd, Severity: "warning", Version: v},
		{Kind: KindExpiring, Deadline: scanner.DeadlineConsumptionEnd, Severity: "critical", Version: v},
		{Kind: KindUnusable, Severity: "critical", Version: v},
		{Kind: KindDeleted, Severity: "warning", Version: v, Reasons: []string{"in-use", "newest"}},
		{Kind: KindScanFailing, Scan: &ScanFailure{Since: t0}},
		{Kind: KindConsumedDeleted, Severity: "critical", Consumed: &scanner.ConsumedVersion{Kind: scanner.ConsumedCommunity,
			ID: "/CommunityGalleries/contoso-public/Images/ubuntu/Versions/1.0.3", Gallery: "contoso-public", Image: "ubuntu", Version: "1.0.3",
			Location: "westeurope", State: "SoftDeleted", ConsumptionEndsAt: t0.Add(36 * time.Hour), Workloads: []string{"/subscriptions/x/vmss/web"}}},
	}
	// The labels a rule's alert has beyond its own: the version metrics' labels, and the owner
	// tags its join takes from purgewatch_image_info (metrics.tagLabels: [owner, team]).
	versionLabels := []string{"alertname", "subscription_id", "resource_group", "gallery", "image", "version", "location", "tag_owner", "tag_team"}
	sent := map[string]bool{}
	for _, a := range (&alertmanager{lead: time.Hour, tags: []string{"owner", "team"}}).alerts(Message{Events: events, Now: t0}) {
		name := a.Labels["alertname"]
		sent[name] = true
		candidates, ok := rules[name]
		if !ok {
			t.Errorf("the channel sends %s, which rules.yaml does not have", name)
			continue
		}
		matched := false
		for _, r := range candidates {
			if r.labels["severity"] == a.Labels["severity"] && r.labels["deadline"] == a.Labels["deadline"] &&
				r.annotations["runbook_url"] == a.Annotations["runbook_url"] && a.Annotations["runbook_url"] != "" {
				matched = true
			}
		}
		if !matched {
			t.Errorf("%s: severity %q, deadline %q, runbook %q match no rule of that name: %+v", name, a.Labels["severity"],
				a.Labels["deadline"], a.Annotations["runbook_url"], candidates)
		}
		if name == AlertConsumedDeleted { // the labels of purgewatch_consumed_image_version_*
			if got := slices.Sorted(maps.Keys(a.Labels)); !slices.Equal(got, []string{"alertname", "gallery", "image", "kind", "location", "severity", "version"}) {
				t.Errorf("%s labels %v", name, got)
			}
			continue
		}
		if a.Labels["subscription_id"] == "" { // the blind alert is about no version
			continue
		}
		var want []string
		for _, r := range candidates {
			want = append(slices.Clone(versionLabels), slices.Collect(maps.Keys(r.labels))...)
			if name == AlertDeleted { // it fires on purgewatch_soft_deleted_version_info: routine, not reasons or deleted_by
				want = append(want, "routine")
			}
		}
		got := slices.Sorted(maps.Keys(a.Labels))
		slices.Sort(want)
		if !slices.Equal(got, slices.Compact(want)) {
			t.Errorf("%s labels %v, the rule's alert has %v", name, got, slices.Compact(want))
		}
	}
	if len(sent) != 8 {
		t.Errorf("sent %d alert names, want 8: %v", len(sent), sent)
	}
}

// Each alert links back to where it came from, as Prometheus's link to their expression: the
// status page at --web.external-url, filtered to the version's gallery; without an external
// URL, no link (a guessed localhost would open nowhere).
func TestAlertsLinkToTheStatusPage(t *testing.T) {
	v := ver("prod images", "1.0.0", t0.Add(10*time.Hour), 0, nil)
	events := []Event{{Kind: KindExpiring, Deadline: scanner.DeadlinePurge, Severity: "critical", Version: v},
		{Kind: KindScanFailing, Scan: &ScanFailure{Since: t0}}}
	am := &alertmanager{lead: time.Hour}
	got := am.alerts(Message{Events: events, Now: t0, ExternalURL: "https://pw.example.com/watch"})
	want := []string{"https://pw.example.com/watch/?gallery=prod+images&subscription=" + v.SubscriptionID, "https://pw.example.com/watch/"}
	if len(got) != 2 || got[0].GeneratorURL != want[0] || got[1].GeneratorURL != want[1] {
		t.Errorf("generatorURLs = %q, %q; want %q", got[0].GeneratorURL, got[1].GeneratorURL, want)
	}
	for _, a := range am.alerts(Message{Events: events, Now: t0}) {
		if a.GeneratorURL != "" {
			t.Errorf("%s links to %q with no external URL set", a.Labels["alertname"], a.GeneratorURL)
		}
	}
}

// Slack and Teams end with a link to the status page when its address is known, and with none
// when it is not.
func TestChatMessagesLinkToTheStatusPage(t *testing.T) {
	events := []Event{{Kind: KindExpiring, Deadline: scanner.DeadlinePurge, Severity: "critical", Threshold: 6 * time.Hour,
		Version: ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)}}
	for typ, want := range map[string]string{
		config.ChannelSlack: `\u003chttps://pw.example.com/|status page\u003e`, // <url|text>, as JSON writes it
		config.ChannelTeams: `{"title":"Open the status page","type":"Action.OpenUrl","url":"https://pw.example.com/"}`,
	} {
		ch, err := NewChannel(config.Channel{Name: typ, Type: typ, WebhookURL: "https://hooks.example/x"}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		with, err := ch.Render(Message{Events: events, Now: t0, ExternalURL: "https://pw.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		without, err := ch.Render(Message{Events: events, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(with.Body), want) || strings.Contains(string(without.Body), "status page") {
			t.Errorf("%s: with an external URL:\n%s\nwithout:\n%s", typ, with.Body, without.Body)
		}
	}
}
