package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/robfig/cron/v3"
)

var subscriptionID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// validator gathers every invalid value, each placed at the line of its key.
type validator struct {
	file string
	idx  *index
	errs []error
}

func (v *validator) failf(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.idx.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// failBecause places a missing key's error at the key that demands it.
func (v *validator) failBecause(key, because, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: v.idx.line(because), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.failf(key, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

func validate(file string, c *Config, idx *index) error {
	v := &validator{file: file, idx: idx}
	a := c.Azure
	v.oneOf("azure.auth", a.Auth, AuthDefault, AuthWorkloadIdentity, AuthManagedIdentity, AuthAzureCLI, AuthClientSecret, AuthNone)
	v.oneOf("azure.discovery", a.Discovery, "arm", "resourcegraph")
	if len(a.ManagementGroups) > 0 && a.Discovery != "resourcegraph" {
		v.failf("azure.managementGroups", "needs discovery: resourcegraph (the ARM walk cannot tell which subscriptions a management group holds)")
	}
	if len(a.ManagementGroups) > 0 && len(a.Subscriptions) > 0 {
		v.failf("azure.managementGroups", "and azure.subscriptions both scope the scan: name one or the other")
	}
	v.oneOf("azure.cloud", a.Cloud, "public", "china", "usgovernment")
	if a.Endpoint != "" {
		u, err := neturl.Parse(a.Endpoint)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			v.failf("azure.endpoint", "%q is not an http(s) URL", a.Endpoint)
		case u.Scheme == "http" && a.Auth != AuthNone:
			v.failf("azure.endpoint", "plain http is allowed only with auth: none (a token must not travel unencrypted)")
		}
	}
	if a.Auth == AuthClientSecret {
		for _, f := range [][2]string{{"azure.tenantId", a.TenantID}, {"azure.clientId", a.ClientID}, {"azure.clientSecret", a.ClientSecret}} {
			if f[1] == "" {
				v.failBecause(f[0], "azure.auth", "is required with auth: client-secret")
			}
		}
	}
	for _, list := range []struct {
		key string
		ids []string
	}{{"azure.subscriptions", a.Subscriptions}, {"azure.excludeSubscriptions", a.ExcludeSubscriptions}} {
		for i, id := range list.ids {
			if !subscriptionID.MatchString(id) {
				v.failf(fmt.Sprintf("%s[%d]", list.key, i), "%q is not a subscription ID (a GUID)", id)
			}
		}
	}
	if a.Concurrency < 1 || a.Concurrency > 256 {
		v.failf("azure.concurrency", "%d is outside 1..256", a.Concurrency)
	}
	if t := a.RequestTimeout; t < time.Second || t > c.Scan.Timeout {
		v.failf("azure.requestTimeout", "%s is outside 1s..scan.timeout (%s)", t, c.Scan.Timeout)
	}
	if d := c.Retention.DefaultDays; d < 1 || d > 365 {
		v.failf("retention.defaultDays", "%d is outside 1..365", d)
	}
	if c.Scan.Incremental && c.Azure.Discovery != "resourcegraph" {
		v.failf("scan.incremental", "needs azure.discovery: resourcegraph (only Resource Graph says cheaply which image definitions changed)")
	}
	if c.Scan.FullEvery < time.Minute {
		v.failf("scan.fullEvery", "must be at least 1m (default 6h)")
	}
	if c.Scan.Timeout <= 0 {
		v.failf("scan.timeout", "must be a positive duration such as 10m")
	}
	if _, err := ParseSchedule(c.Scan.Schedule); err != nil {
		v.failf("scan.schedule", "%v", err)
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		v.failf("server.listen", "%q is not host:port (%v)", c.Server.Listen, err)
	}
	if f := c.Server.WebConfigFile; f != "" {
		// The same check `run` makes before serving: TLS files, users and hashes.
		if err := web.Validate(f); err != nil {
			v.failf("server.webConfigFile", "%s: %v", f, err)
		}
	}
	if err := CheckExternalURL(c.Server.ExternalURL); err != nil {
		v.failf("server.externalURL", "%v", err)
	}
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "json", "logfmt", "console")
	v.notify(&c.Notify)
	v.ha(&c.HA, len(c.Notify.Channels))
	for _, other := range []struct{ key, path string }{{"the configuration file", v.file}, {"server.webConfigFile", c.Server.WebConfigFile}} {
		if c.Notify.StateFile != "" && other.path != "" && sameFile(c.Notify.StateFile, other.path) {
			// A state file that is another of purgewatch's files would be taken for a corrupt one
			// and moved aside at start.
			v.failf("notify.stateFile", "%s is %s: the state file must be a file of its own", c.Notify.StateFile, other.key)
		}
	}
	if d := c.Audit.MinRetentionDays; d < 1 || d > 365 {
		v.failf("audit.minRetentionDays", "%d is outside 1..365", d)
	}
	if p := c.Metrics.StoragePricePerGBMonth; p < 0 {
		v.failf("metrics.storagePricePerGBMonth", "%v is negative", p)
	}
	labels := map[string]string{}
	for i, tag := range c.Metrics.TagLabels {
		key := fmt.Sprintf("metrics.tagLabels[%d]", i)
		if strings.TrimSpace(tag) == "" {
			v.failf(key, "is empty: name an Azure tag, such as owner")
			continue
		}
		if other, dup := labels[TagLabel(tag)]; dup {
			v.failf(key, "%q and %q are both exported as the label %s", other, tag, TagLabel(tag))
		}
		labels[TagLabel(tag)] = tag
	}
	return errors.Join(v.errs...)
}

var channelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (v *validator) notify(n *Notify) {
	if n.Keep < time.Hour {
		v.failf("notify.keep", "must be at least 1h (default 720h: 30 days)")
	}
	if n.BlindAfter <= 0 {
		v.failf("notify.blindAfter", "must be a positive duration such as 1h")
	}
	seenT := map[time.Duration]bool{}
	for i, t := range n.Thresholds {
		key := fmt.Sprintf("notify.thresholds[%d]", i)
		if t <= 0 {
			v.failf(key, "must be a positive duration such as 24h")
		} else if seenT[t] {
			v.failf(key, "%s is listed twice", t)
		}
		seenT[t] = true
	}
	if n.Retry.Initial <= 0 {
		v.failf("notify.retry.initial", "must be a positive duration")
	}
	if n.Retry.Max < n.Retry.Initial {
		v.failf("notify.retry.max", "must be at least notify.retry.initial")
	}
	if len(n.Channels) > 0 && n.StateFile == "" {
		v.failf("notify.stateFile", "is required when channels are configured: without it a restart would send everything again")
	}
	names := map[string]bool{}
	for i := range n.Channels {
		v.channel(fmt.Sprintf("notify.channels[%d]", i), &n.Channels[i], names)
	}
	for i, r := range n.Routes {
		key := fmt.Sprintf("notify.routes[%d]", i)
		if len(r.Channels) == 0 {
			v.failf(key+".channels", "a route needs at least one channel")
		}
		for j, name := range r.Channels {
			if !names[name] {
				v.failf(fmt.Sprintf("%s.channels[%d]", key, j), "no channel is named %q", name)
			}
		}
		if s := r.Match.Subscription; s != "" && !subscriptionID.MatchString(s) {
			v.failf(key+".match.subscription", "%q is not a subscription ID (a GUID)", s)
		}
		v.deleter(key+".match.deletedBy", r.Match.DeletedBy)
	}
	switch n.Routine {
	case RoutineWarn, RoutineDigest, RoutineQuiet:
	default:
		v.failf("notify.routine", "%q is not one of warn, digest, quiet", n.Routine)
	}
	if _, err := ParseDigestSchedule(n.DigestSchedule); err != nil {
		v.failf("notify.digestSchedule", "%v", err)
	}
	for i, e := range n.Expected.Rules {
		key := fmt.Sprintf("notify.expected.rules[%d].match", i)
		if s := e.Match.Subscription; s != "" && !subscriptionID.MatchString(s) {
			v.failf(key+".subscription", "%q is not a subscription ID (a GUID)", s)
		}
		if e.Match.Routine != nil {
			v.failf(key+".routine", "is what a rule decides, not what it matches on")
		}
		if e.Match.Subscription+e.Match.ResourceGroup+e.Match.Gallery+e.Match.Image+e.Match.DeletedBy == "" && len(e.Match.Tags) == 0 {
			v.failf(key, "matches every version: name a subscription, resource group, gallery, image, tag or deletedBy")
		}
		v.deleter(key+".deletedBy", e.Match.DeletedBy)
	}
	for i, d := range n.Expected.Deleters {
		key := fmt.Sprintf("notify.expected.deleters[%d]", i)
		if d == "" {
			v.failf(key, "is empty: name an app id, an object id or a user principal name glob")
		}
		v.deleter(key, d)
	}
}

// deleter checks a deleter pattern: a glob must be one path.Match can read.
func (v *validator) deleter(key, pattern string) {
	if _, err := path.Match(pattern, ""); err != nil {
		v.failf(key, "%q is not a valid glob: %v", pattern, err)
	}
}

func (v *validator) channel(key string, ch *Channel, names map[string]bool) {
	switch {
	case !channelName.MatchString(ch.Name):
		v.failf(key+".name", "%q is not a channel name (letters, digits, '_', '-', '.')", ch.Name)
	case names[ch.Name]:
		v.failf(key+".name", "channel %q is defined twice", ch.Name)
	}
	names[ch.Name] = true
	if ch.Timeout <= 0 {
		v.failf(key+".timeout", "must be a positive duration")
	}
	if ch.Template != "" {
		if _, err := os.Stat(ch.Template); err != nil {
			v.failf(key+".template", "%v", err)
		}
	}
	url := func(field, value string) {
		if value == "" {
			v.failBecause(key+"."+field, key+".type", "is required for a %s channel", ch.Type)
			return
		}
		if u, err := neturl.Parse(value); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			v.failf(key+"."+field, "is not an http(s) URL")
		}
	}
	switch ch.Type {
	case ChannelSlack, ChannelTeams:
		url("webhookURL", ch.WebhookURL)
	case ChannelWebhook:
		url("url", ch.URL)
	case ChannelAlertmanager:
		if len(ch.URLs) == 0 {
			v.failBecause(key+".urls", key+".type", "an alertmanager channel needs at least one URL")
		}
		for i, u := range ch.URLs {
			url(fmt.Sprintf("urls[%d]", i), u)
		}
	case ChannelEmail:
		if ch.SMTP.Host == "" {
			v.failBecause(key+".smtp.host", key+".type", "is required for an email channel")
		}
		if ch.SMTP.Port < 1 || ch.SMTP.Port > 65535 {
			v.failf(key+".smtp.port", "%d is not a port", ch.SMTP.Port)
		}
		v.oneOf(key+".smtp.tls", ch.SMTP.TLS, "starttls", "tls", "none")
		if ch.From == "" {
			v.failBecause(key+".from", key+".type", "is required for an email channel")
		} else if _, err := mail.ParseAddress(ch.From); err != nil {
			v.failf(key+".from", "%q is not an email address", ch.From)
		}
		if len(ch.To) == 0 {
			v.failBecause(key+".to", key+".type", "an email channel needs at least one recipient")
		}
		for i, to := range ch.To {
			if _, err := mail.ParseAddress(to); err != nil {
				v.failf(fmt.Sprintf("%s.to[%d]", key, i), "%q is not an email address", to)
			}
		}
	case ChannelLog:
	default:
		v.failf(key+".type", "%q is not one of slack, teams, email, webhook, alertmanager, log", ch.Type)
	}
}

// scheduleParser reads standard 5-field cron expressions and descriptors such as @every 10m.
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses scan.schedule.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := scheduleParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron schedule (5 fields, or @every 10m): %w", spec, err)
	}
	// A schedule that names no real time (30 February) parses, and would never scan: purgewatch
	// would sit ready with nothing to report. cron looks five years ahead and gives up.
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("%q never fires (a day that does not exist?): no scan would ever run", spec)
	}
	return s, nil
}

// ParseDigestSchedule parses notify.digestSchedule: a cron expression of wall-clock times, in
// UTC. @every is refused: its times follow whenever it is asked, so no two scans would agree on
// which digest is due, and each would send one.
func ParseDigestSchedule(spec string) (cron.Schedule, error) {
	s, err := ParseSchedule(spec)
	if err != nil {
		return nil, err
	}
	if _, ok := s.(cron.ConstantDelaySchedule); ok {
		return nil, fmt.Errorf("%q is an interval, not times of day: write the times as cron does (0 9 * * *)", spec)
	}
	return s, nil
}

// CheckExternalURL accepts "" (no links) or an absolute http(s) URL: a link in an e-mail or an
// alert must open from anywhere.
func CheckExternalURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := neturl.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL such as https://purgewatch.example.com/", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		// Links add their own path and query: the base must be only scheme, host and path.
		return fmt.Errorf("%q has a query, a fragment or credentials; give only the address, such as https://purgewatch.example.com/", s)
	}
	return nil
}

// sameFile reports whether a and b name one file: the same file when both exist (a link, another
// spelling), else the same clean absolute path.
func sameFile(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil {
			return os.SameFile(sa, sb)
		}
	}
	aa, errA := filepath.Abs(a)
	ab, errB := filepath.Abs(b)
	return errA == nil && errB == nil && aa == ab
}
