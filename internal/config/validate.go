package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

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
	v.oneOf("azure.cloud", a.Cloud, "public", "china", "usgovernment")
	if a.Endpoint != "" {
		u, err := url.Parse(a.Endpoint)
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
	if d := c.Retention.DefaultDays; d < 1 || d > 365 {
		v.failf("retention.defaultDays", "%d is outside 1..365", d)
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
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "json", "console")
	return errors.Join(v.errs...)
}

// scheduleParser reads standard 5-field cron expressions and descriptors such as @every 10m.
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses scan.schedule.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := scheduleParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron schedule (5 fields, or @every 10m): %w", spec, err)
	}
	return s, nil
}
