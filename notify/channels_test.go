package notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

func TestWebhookIsSignedAndShaped(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	v := ver("g", "1.0.0", t0.Add(5*time.Hour), 0, nil)
	h.scan(snapshot(t0, v), nil)
	bodies := rx.received()
	if len(bodies) != 1 {
		t.Fatalf("messages = %d", len(bodies))
	}
	if got, want := rx.headers[0].Get(SignatureHeader), Sign("s3cret", bodies[0]); got != want || !strings.HasPrefix(got, "sha256=") {
		t.Errorf("signature %q, want %q", got, want)
	}
	var p map[string]any
	if err := json.Unmarshal(bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p["sentAt"] != t0.Format(time.RFC3339) {
		t.Errorf("sentAt = %v", p["sentAt"])
	}
	e := p["events"].([]any)[0].(map[string]any)
	version := e["version"].(map[string]any)
	if e["id"] != eventID(versionKey(v), KindExpiring, 6*time.Hour) || e["type"] != "expiring" || e["threshold"] != "6h" ||
		version["secondsUntilPurge"] != float64(5*3600) || version["id"] != v.ID() || version["purgeAt"] != v.PurgeAt.Format(time.RFC3339) {
		t.Errorf("event = %v", e)
	}
}

func TestSlackBlockKitAndTeamsAdaptiveCard(t *testing.T) {
	slackRx, teamsRx := newReceiver(t), newReceiver(t)
	h := newHarness(t,
		config.Channel{Name: "chat", Type: config.ChannelSlack, WebhookURL: slackRx.srv.URL},
		config.Channel{Name: "teams", Type: config.ChannelTeams, WebhookURL: teamsRx.srv.URL})
	h.scan(snapshot(t0, ver("prodimages", "1.2.0", t0.Add(2*time.Hour+39*time.Minute), 0, nil),
		ver("platform", "2.0.0", t0.Add(10*24*time.Hour), 30, nil)), nil)

	var slack struct {
		Text   string
		Blocks []struct {
			Type string
			Text struct{ Type, Text string }
		}
	}
	if err := json.Unmarshal(slackRx.received()[0], &slack); err != nil {
		t.Fatal(err)
	}
	if slack.Text != "2 soft-deleted image versions need attention: 1 unusable, first purged in 2h 39m (2026-11-27 14:39 UTC)" { // the e-mail subject's words and counts
		t.Errorf("slack text = %q", slack.Text)
	}
	if len(slack.Blocks) != 4 || slack.Blocks[0].Type != "header" || slack.Blocks[1].Text.Type != "mrkdwn" || slack.Blocks[3].Type != "context" {
		t.Fatalf("blocks = %+v", slack.Blocks)
	}
	first := slack.Blocks[1].Text.Text
	for _, want := range []string{"*expiring (6h)*", "`prodimages/img/1.2.0`", "*purged in 2h 39m*", "az rest --method patch --url 'https://management.azure.com/subscriptions/"} {
		if !strings.Contains(first, want) {
			t.Errorf("slack section lacks %q:\n%s", want, first)
		}
	}

	var teams struct {
		Type        string
		Attachments []struct {
			ContentType string
			Content     struct {
				Type, Version string
				Body          []struct{ Type, Text string }
			}
		}
	}
	if err := json.Unmarshal(teamsRx.received()[0], &teams); err != nil {
		t.Fatal(err)
	}
	a := teams.Attachments[0]
	if teams.Type != "message" || a.ContentType != "application/vnd.microsoft.card.adaptive" || a.Content.Type != "AdaptiveCard" || len(a.Content.Body) != 3 {
		t.Fatalf("teams = %+v", teams)
	}
	if !strings.Contains(a.Content.Body[2].Text, "**Unusable**: platform/img/2.0.0") {
		t.Errorf("teams card = %q", a.Content.Body[2].Text)
	}
}

func TestATemplateFileOverridesTheBuiltIn(t *testing.T) {
	rx := newReceiver(t)
	path := filepath.Join(t.TempDir(), "slack.tmpl")
	tmpl := `{{define "title"}}Gallery alert: {{len .Events}} versions{{end}}{{define "event"}}{{.Version.Version}} in {{left .Now .Version.PurgeAt}}{{end}}`
	if err := os.WriteFile(path, []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, config.Channel{Name: "chat", Type: config.ChannelSlack, WebhookURL: rx.srv.URL, Template: path})
	h.scan(snapshot(t0, ver("g", "1.0.0", t0.Add(3*time.Hour), 0, nil)), nil)
	body := string(rx.received()[0])
	if !strings.Contains(body, `"text":"Gallery alert: 1 versions"`) || !strings.Contains(body, `"text":"1.0.0 in 3h 0m"`) {
		t.Errorf("override not used: %s", body)
	}

	bad := filepath.Join(t.TempDir(), "bad.tmpl")
	_ = os.WriteFile(bad, []byte(`{{define "title"}}{{.Nope`), 0o600)
	if _, err := NewChannel(config.Channel{Name: "chat", Type: config.ChannelSlack, Template: bad}, Deps{}); err == nil || !strings.Contains(err.Error(), "bad.tmpl") {
		t.Errorf("a broken template: %v", err)
	}
}

func TestPreviewRendersWithoutSendingOrRecording(t *testing.T) {
	rx := newReceiver(t)
	h := newHarness(t, webhookChannel("hook", rx.srv.URL))
	previews, err := PreviewAll(snapshot(t0, ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)), nil, h.set, t0, nil, nil)
	if err != nil || len(previews) != 1 || previews[0].Events != 1 || !strings.Contains(string(previews[0].Body), `"threshold":"6h"`) {
		t.Fatalf("previews = %+v, %v", previews, err)
	}
	if len(rx.received()) != 0 {
		t.Error("preview sent something")
	}
	h.scan(snapshot(t0, ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)), nil)
	if len(rx.received()) != 1 {
		t.Error("preview recorded the event as sent")
	}
}

func TestMessagesNameTheWorkloadsThatStillUseAVersion(t *testing.T) {
	hook, chat := newReceiver(t), newReceiver(t)
	h := newHarness(t, webhookChannel("hook", hook.srv.URL), config.Channel{Name: "chat", Type: config.ChannelSlack, WebhookURL: chat.srv.URL})
	v := ver("g", "1.0.0", t0.Add(3*time.Hour), 0, nil)
	snap := snapshot(t0, v)
	users := map[string][]scanner.Workload{strings.ToLower(v.ID()): {
		{Kind: "vm", ID: "/subscriptions/s/resourceGroups/app/providers/Microsoft.Compute/virtualMachines/web-1"},
		{Kind: "vmss", ID: "/subscriptions/s/resourceGroups/app/providers/Microsoft.Compute/virtualMachineScaleSets/api"},
	}}
	if err := h.n.Announce(t.Context(), snap, users, scanner.Coverage{Complete: true, Since: t0}); err != nil {
		t.Fatal(err)
	}
	h.n.deliverAll(t.Context())
	events := hook.webhookEvents(t)
	if len(events) != 1 || strings.Join(events[0].Workloads, ",") != "VM web-1,scale set api" {
		t.Errorf("webhook workloads = %+v", events)
	}
	if body := string(chat.received()[0]); !strings.Contains(body, "still used by: `VM web-1`, `scale set api`") {
		t.Errorf("slack message does not name the workloads:\n%s", body)
	}
}

func TestChatMarkupIsEscapedAndOnlyWellFormedIdsGetACommand(t *testing.T) {
	hostile := ver("g", "1.0.0", t0.Add(time.Hour), 0, nil)
	hostile.Gallery = "g<!channel>&[x](https://evil.example)"
	hostile.ResourceGroup = "rg'; rm -rf ~; '" // in the id, which the messages do not show but a command would
	fine := ver("ok", "2.0.0", t0.Add(2*time.Hour), 0, nil)
	snap := snapshot(t0, hostile, fine)
	users := map[string][]scanner.Workload{strings.ToLower(hostile.ID()): {{ID: "/subscriptions/s/virtualMachines/<@U123>", Kind: "vm"}}}

	for _, typ := range []string{config.ChannelSlack, config.ChannelTeams} {
		ch, err := NewChannel(config.Channel{Name: typ, Type: typ, WebhookURL: "https://hooks.example/x"}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		events := due(snap, users, t0, thresholds, config.RoutineWarn)
		r, err := ch.Render(Message{Channel: typ, Events: events, Now: t0, ARMEndpoint: "https://management.azure.com"})
		if err != nil {
			t.Fatal(err)
		}
		var texts []string // what the chat renders: every text of the payload, decoded
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					if s, ok := x.(string); ok && k == "text" {
						texts = append(texts, s)
					}
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		var payload any
		if err := json.Unmarshal(r.Body, &payload); err != nil {
			t.Fatal(err)
		}
		walk(payload)
		all := strings.Join(texts, "\n")
		for _, raw := range []string{"<!channel>", "<@U123>", "&["} {
			if strings.Contains(all, raw) {
				t.Errorf("%s: %q reaches the chat unescaped:\n%s", typ, raw, all)
			}
		}
		if !strings.Contains(all, "g&lt;!channel&gt;&amp;") || !strings.Contains(all, "&lt;@U123&gt;") {
			t.Errorf("%s: the names are not shown escaped:\n%s", typ, all)
		}
		if strings.Count(all, "az rest") != 1 || !strings.Contains(all, "--url 'https://management.azure.com/subscriptions/"+sub+"/resourceGroups/rg/providers/Microsoft.Compute/galleries/ok/images/img/versions/2.0.0?api-version=2026-03-03'") {
			t.Errorf("%s: only the well-formed id gets a command, its URL quoted for a shell:\n%s", typ, all)
		}
	}
}
