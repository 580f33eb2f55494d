package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/internal/recovery"
	"github.com/purgewatch/purgewatch/internal/redact"
	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/scanner"
)

// Alert names sent to Alertmanager: those deploy/prometheus/rules.yaml fires under, with the
// same labels and runbook_url, so that where both are in use Alertmanager sees one alert for a
// version, not two (a test holds the two to each other).
const (
	AlertPurgeSoon        = "PurgewatchVersionPurgeSoon"
	AlertPurgeImminent    = "PurgewatchVersionPurgeImminent"
	AlertUnusableSoon     = "PurgewatchVersionUnusableSoon"
	AlertUnusableImminent = "PurgewatchVersionUnusableImminent"
	AlertUnusable         = "PurgewatchVersionUnusable"
	AlertDeleted          = "PurgewatchVersionDeleted"
	runbookBase           = "https://github.com/purgewatch/purgewatch/blob/main/docs/runbook.md#"
	severityCritical      = "critical"
)

// expiringAlert names an expiring alert by its deadline and severity, as the rules do.
func expiringAlert(d scanner.Deadline, severity string) string {
	switch {
	case d == scanner.DeadlineConsumptionEnd && severity == severityCritical:
		return AlertUnusableImminent
	case d == scanner.DeadlineConsumptionEnd:
		return AlertUnusableSoon
	case severity == severityCritical:
		return AlertPurgeImminent
	}
	return AlertPurgeSoon
}

// runbook is an alert's runbook_url: its section of docs/runbook.md.
func runbook(alert string) string { return runbookBase + strings.ToLower(alert) }

// alertmanager posts alerts to every Alertmanager of a cluster (each must hear of them: they
// deduplicate among themselves only what they were each sent).
type alertmanager struct {
	base
	urls   []string
	client *http.Client
	lead   time.Duration
	tags   []string // metrics.tagLabels
}

func (a *alertmanager) MaxEvents() int { return 500 }

// ResendsActive: Alertmanager resolves an alert at its endsAt unless it is sent again.
func (a *alertmanager) ResendsActive() bool { return true }

// postableAlert is Alertmanager's API v2 alert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// alerts turns events into alerts: firing ones end a few scans ahead and are sent again each scan
// while active; a resolved one keeps its original startsAt and ends now.
func (a *alertmanager) alerts(m Message) []postableAlert {
	var out []postableAlert
	for _, e := range m.Events {
		starts := e.Since
		if starts.IsZero() {
			starts = m.Now
		}
		ends := m.Now.Add(a.lead)
		if e.Scan != nil {
			if e.Kind == KindResolved {
				ends = m.Now
			}
			out = append(out, blindAlert(e, statusPage(m.ExternalURL, nil), starts, ends))
			continue
		}
		if e.Consumed != nil {
			out = append(out, consumedAlert(e, m, starts, ends))
			continue
		}
		switch e.Kind {
		case KindExpiring:
			out = append(out, a.alert(expiringAlert(e.Deadline, e.Severity), e.Severity, e, m, starts, ends))
			if e.PreviousSeverity != "" && e.PreviousSeverity != e.Severity {
				out = append(out, a.alert(expiringAlert(e.Deadline, e.PreviousSeverity), e.PreviousSeverity, e, m, starts, m.Now))
			}
		case KindUnusable:
			out = append(out, a.alert(AlertUnusable, "critical", e, m, starts, ends))
		case KindDeleted:
			out = append(out, a.alert(AlertDeleted, "warning", e, m, starts, ends))
		case KindResolved:
			// End every alert the version can have had: each deadline at each severity. Ending one
			// that never fired is harmless; leaving one firing is not.
			for _, d := range deadlinesOf(e.Version) {
				for _, sev := range []string{"warning", "critical"} {
					e.Deadline = d
					out = append(out, a.alert(expiringAlert(d, sev), sev, e, m, starts, m.Now))
				}
			}
			e.Deadline = ""
			if mayHaveBeenUnusable(e, m.Now) {
				out = append(out, a.alert(AlertUnusable, "critical", e, m, starts, m.Now))
			}
			// A deleted alert is not ended here: its labels carry the reasons it had, which the
			// log does not keep; unsent again, it ends at its endsAt, a few scans on.
		}
	}
	return out
}

func deadlinesOf(v scanner.Version) []scanner.Deadline {
	if v.HasGrace() {
		return []scanner.Deadline{scanner.DeadlinePurge, scanner.DeadlineConsumptionEnd}
	}
	return []scanner.Deadline{scanner.DeadlinePurge}
}

// mayHaveBeenUnusable: only a version with a grace period, past its usable life, ever had an
// unusable alert to resolve.
func mayHaveBeenUnusable(e Event, now time.Time) bool {
	v := e.Version
	return v.ConsumptionEndsAt.Before(v.PurgeAt) && !now.Before(v.ConsumptionEndsAt)
}

func (a *alertmanager) alert(name, severity string, e Event, m Message, starts, ends time.Time) postableAlert {
	v := e.Version
	summary := fmt.Sprintf("Soft-deleted image version %s/%s/%s is purged %s", v.Gallery, v.Image, v.Version,
		v.PurgeAt.UTC().Format(time.RFC3339))
	if e.Deadline == scanner.DeadlineConsumptionEnd {
		summary = fmt.Sprintf("Soft-deleted image version %s/%s/%s becomes unusable %s", v.Gallery, v.Image, v.Version,
			v.ConsumptionEndsAt.UTC().Format(time.RFC3339))
	}
	ann := map[string]string{
		"summary":         summary,
		"purge_at":        v.PurgeAt.UTC().Format(time.RFC3339),
		"consumption_end": v.ConsumptionEndsAt.UTC().Format(time.RFC3339),
		"resource_id":     v.ID(),
		"description":     "Recover it before the purge if it is still needed; after the purge nothing brings it back.",
		"runbook_url":     runbook(name),
	}
	switch name {
	case AlertUnusable:
		ann["description"] = "VMs and scale-outs from this version now fail. It can still be recovered until the purge."
	case AlertDeleted:
		ann["summary"] = fmt.Sprintf("Image version %s/%s/%s was soft-deleted, and it does not look routine: %s", v.Gallery, v.Image, v.Version,
			triage.Explain(e.Reasons))
		ann["reasons"] = strings.Join(e.Reasons, ",")
		ann["description"] = "If the deletion was a mistake, recover it while it is usable; if it was intended, say so with notify.expected.rules or a silence."
	}
	if cmd, ok := recovery.RecoverCommand(m.ARMEndpoint, v.ID()); ok {
		ann["recover"] = cmd
	}
	if who := deleters.Describe(v, m.Now); who != "" {
		ann["deleted_by"] = who
	}
	if len(e.Workloads) > 0 {
		ann["workloads"] = strings.Join(e.Workloads, ", ")
	}
	// The labels of the rules' alerts: the version's metric labels, severity, and the deadline
	// of an expiring one.
	labels := map[string]string{"alertname": name, "severity": severity, "subscription_id": v.SubscriptionID,
		"resource_group": v.ResourceGroup, "gallery": v.Gallery, "image": v.Image, "version": v.Version, "location": v.Location}
	switch name {
	case AlertUnusable:
	case AlertDeleted: // the labels of purgewatch_soft_deleted_version_info, which the rule fires on
		// Neither deleted_by nor reasons: the Activity Log names the deleter minutes later, an
		// audit that fails once adds unknown-usage, and a label that changed would be a second
		// alert for one deletion. The annotations say who and why.
		labels["routine"] = "false"
	default:
		labels["deadline"] = string(e.Deadline)
	}
	for _, t := range a.tags { // metrics.tagLabels, as purgewatch_image_info and the rules' join carry them
		if value := v.Tags[t]; value != "" {
			labels[config.TagLabel(t)] = config.TagValue(value)
		}
	}
	if e.Test { // a receiver's routes can drop it, and whoever sees it knows
		labels["test"] = "true"
		ann["summary"] = "TEST from purgewatch notify test, about a made-up version, nothing to do: " + ann["summary"]
	}
	return postableAlert{
		Labels:      labels,
		Annotations: ann, StartsAt: starts.UTC(), EndsAt: ends.UTC(),
		GeneratorURL: statusPage(m.ExternalURL, &v),
	}
}

func (a *alertmanager) Render(m Message) (Rendered, error) {
	body, err := json.Marshal(a.alerts(m))
	return Rendered{ContentType: "application/json", Body: body}, err
}

// Send posts to every URL; it fails if any one failed, and the retry posts to all again, which
// Alertmanager takes as the same alerts.
func (a *alertmanager) Send(ctx context.Context, m Message) error {
	r, err := a.Render(m)
	if err != nil {
		return unrenderable(err)
	}
	var errs []error
	var wait time.Duration
	refused := true // every Alertmanager that failed refused the alerts for good
	status := 0
	for _, u := range a.urls {
		target := strings.TrimSuffix(u, "/") + "/api/v2/alerts"
		if err := post(ctx, a.client, target, redact.Userinfo(target), r.ContentType, r.Body, nil); err != nil {
			errs = append(errs, err)
			wait = max(wait, retryAfter(err))
			if permanent(err) {
				status, _ = refusal(err)
			} else {
				refused = false
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	se := &SendError{Err: errors.Join(errs...), RetryAfter: wait}
	if refused { // one that may pass is worth retrying for; all refusing is not
		se.Status, se.Refused = status, true
	}
	return a.clean(se)
}

// blindAlert is the one alert of a blind episode: firing while no scan reads everything.
func blindAlert(e Event, generatorURL string, starts, ends time.Time) postableAlert {
	ann := map[string]string{
		"summary":     "purgewatch has not seen the whole estate since " + e.Scan.Since.UTC().Format(time.RFC3339),
		"description": "What purgewatch reports is no all-clear: versions deleted meanwhile may not be announced.",
		"runbook_url": runbook(AlertBlind),
	}
	var failed []string
	for _, f := range e.Scan.Errors {
		failed = append(failed, f.Scope+": "+f.Code+": "+f.Message)
	}
	if len(failed) > 0 {
		ann["failed"] = strings.Join(failed, "\n")
	}
	if len(e.Scan.Advice) > 0 {
		ann["advice"] = strings.Join(e.Scan.Advice, " ")
	}
	return postableAlert{Labels: map[string]string{"alertname": AlertBlind, "severity": "critical"},
		Annotations: ann, StartsAt: starts.UTC(), EndsAt: ends.UTC(), GeneratorURL: generatorURL}
}
