package web

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/scanner"
)

// filter is what the page and the API are asked to show, from query parameters: subscription,
// gallery (names, case-insensitively), deadline (the next one: consumptionEnd or purge), state
// (usable, unusable or overdue), urgency (overdue, critical, unusable, warning, ok) and routine
// (true or false: triage's verdict; a version not judged matches neither).
type filter struct {
	Subscription, Gallery, Deadline, State, Urgency, Routine string
}

var (
	deadlines = []string{string(scanner.DeadlineConsumptionEnd), string(scanner.DeadlinePurge)}
	states    = []string{scanner.PhaseUsable, scanner.PhaseUnusable, scanner.PhaseOverdue}
	urgencies = []string{string(scanner.UrgencyOverdue), string(scanner.UrgencyCritical), string(scanner.UrgencyUnusable),
		string(scanner.UrgencyWarning), string(scanner.UrgencyOK)}
	verdicts = []string{"false", "true"}
)

// parseFilter reads the filter of a request; a value outside an enumeration is an error that
// names the parameter and what it takes.
func parseFilter(q url.Values) (filter, error) {
	f := filter{Subscription: q.Get("subscription"), Gallery: q.Get("gallery"), Deadline: q.Get("deadline"),
		State: q.Get("state"), Urgency: q.Get("urgency"), Routine: q.Get("routine")}
	for _, c := range []struct {
		name, value string
		allowed     []string
	}{{"deadline", f.Deadline, deadlines}, {"state", f.State, states}, {"urgency", f.Urgency, urgencies}, {"routine", f.Routine, verdicts}} {
		if c.value != "" && !slices.Contains(c.allowed, c.value) {
			return f, fmt.Errorf("%s=%q: takes one of %s", c.name, c.value, strings.Join(c.allowed, ", "))
		}
	}
	return f, nil
}

func (f filter) match(v *scanner.Version, now time.Time, thresholds []time.Duration, usedBy []scanner.Workload) bool {
	if f.Subscription != "" && !strings.EqualFold(f.Subscription, v.SubscriptionID) ||
		f.Gallery != "" && !strings.EqualFold(f.Gallery, v.Gallery) ||
		f.State != "" && f.State != v.Phase(now) ||
		f.Routine != "" && (v.Triage == nil || strconv.FormatBool(v.Routine()) != f.Routine) {
		return false
	}
	if f.Deadline != "" {
		if d, _ := v.NextDeadline(now); string(d) != f.Deadline {
			return false
		}
	}
	return f.Urgency == "" || f.Urgency == string(urgency(v, now, thresholds, len(usedBy) > 0))
}

// query is the filter as query parameters, for links to other pages of the same selection.
func (f filter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"subscription": f.Subscription, "gallery": f.Gallery, "deadline": f.Deadline, "state": f.State, "urgency": f.Urgency, "routine": f.Routine} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// selectVersions keeps the versions of st that f matches, in vs's order.
func selectVersions(st *status.State, vs []scanner.Version, f filter, now time.Time, thresholds []time.Duration) []scanner.Version {
	if f == (filter{}) {
		return vs
	}
	var out []scanner.Version
	for i := range vs {
		if f.match(&vs[i], now, thresholds, usedBy(st, &vs[i])) {
			out = append(out, vs[i])
		}
	}
	return out
}

// The API pages in the snapshot's own order (purge time, then id) and resumes after the last
// version it sent, so that a scan between two pages neither repeats nor skips what stayed.

// continueToken names the last version of a page.
func continueToken(v scanner.Version) string {
	return base64.RawURLEncoding.EncodeToString([]byte(v.PurgeAt.UTC().Format(time.RFC3339Nano) + "|" + v.ID()))
}

// resume returns the index of the first version after the one token names.
func resume(vs []scanner.Version, token string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	at, id, ok := strings.Cut(string(raw), "|")
	if err != nil || !ok {
		return 0, fmt.Errorf("continue=%q is not a token this API gave", token)
	}
	purge, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return 0, fmt.Errorf("continue=%q is not a token this API gave", token)
	}
	i, _ := slices.BinarySearchFunc(vs, struct{}{}, func(v scanner.Version, _ struct{}) int {
		if c := v.PurgeAt.Compare(purge); c != 0 {
			return c
		}
		if v.ID() <= id {
			return -1
		}
		return 1
	})
	return i, nil
}

// limitOf reads limit: def when absent, at most max.
func limitOf(q url.Values, def, most int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, fmt.Errorf("limit=%q: takes a number from 1 to %d", s, most)
	}
	return n, nil
}

// The page shows the most urgent rows first, pageRows at a time, with links to the rest.
const (
	pageRows    = 100
	maxPageRows = 5000
	apiLimit    = 1000
	maxAPILimit = 10000
)

// selection is a page of the status page: a filter, where it starts and how many rows.
type selection struct {
	filter
	from, limit int
	// refresh is ?refresh=: seconds between reloads of the page, 0 for none (the default: a
	// reload closes the recovery command a reader opened, and the page allows no script that
	// could wait for them).
	refresh int
	// group is ?group=: image (rows under their gallery and image definition), none, or ""
	// (image when more than groupAbove versions are chosen).
	group string
	// findings is ?findings=all: every audit finding, not only the most severe.
	findings bool
}

// groupAbove is how many versions a flat list shows before it is grouped by image definition.
const groupAbove = 100

// minRefresh is the shortest ?refresh= the page takes: scans come every few minutes.
const minRefresh = 10

func parseSelection(q url.Values) (selection, error) {
	f, err := parseFilter(q)
	if err != nil {
		return selection{}, err
	}
	limit, err := limitOf(q, pageRows, maxPageRows)
	if err != nil {
		return selection{}, err
	}
	from := 0
	if s := q.Get("from"); s != "" {
		if from, err = strconv.Atoi(s); err != nil || from < 0 {
			return selection{}, fmt.Errorf("from=%q: takes a row number from 0", s)
		}
	}
	refresh := 0
	if v := q.Get("refresh"); v != "" {
		if refresh, err = strconv.Atoi(v); err != nil || refresh != 0 && refresh < minRefresh {
			return selection{}, fmt.Errorf("refresh=%q: takes seconds between reloads, at least %d, or 0 for none", v, minRefresh)
		}
	}
	group := q.Get("group")
	if group != "" && group != "image" && group != "none" {
		return selection{}, fmt.Errorf("group=%q: takes image or none", group)
	}
	findings := q.Get("findings")
	if findings != "" && findings != "all" {
		return selection{}, fmt.Errorf("findings=%q: takes all", findings)
	}
	return selection{filter: f, from: from, limit: limit, refresh: refresh, group: group, findings: findings == "all"}, nil
}

// link is the page of the same selection that starts at row from.
func (s selection) link(from int) string {
	q := s.query()
	if from > 0 {
		q.Set("from", strconv.Itoa(from))
	}
	if s.limit != pageRows {
		q.Set("limit", strconv.Itoa(s.limit))
	}
	if s.refresh > 0 {
		q.Set("refresh", strconv.Itoa(s.refresh))
	}
	if s.group != "" {
		q.Set("group", s.group)
	}
	return "?" + q.Encode() + "#versions"
}

// versionPage is one page of /api/v1/versions: the scan -o json document with a page of the
// selected versions, then how many the selection holds and the token of the next page. It is
// written one version at a time: a page of 10,000 versions is 6.7 MB of JSON, never held whole.
type versionPage struct {
	versions []scanner.Version
	more     struct {
		Total    int    `json:"total"`
		Continue string `json:"continue,omitempty"`
	}
}

func versionsPage(st *status.State, q url.Values, now time.Time, thresholds []time.Duration) (versionPage, error) {
	f, err := parseFilter(q)
	if err != nil {
		return versionPage{}, err
	}
	limit, err := limitOf(q, apiLimit, maxAPILimit)
	if err != nil {
		return versionPage{}, err
	}
	vs := selectVersions(st, st.Snapshot.Versions, f, now, thresholds)
	start := 0
	if tok := q.Get("continue"); tok != "" {
		if start, err = resume(vs, tok); err != nil {
			return versionPage{}, err
		}
	}
	end := min(start+limit, len(vs))
	p := versionPage{versions: vs[start:end]}
	p.more.Total = len(vs)
	if end < len(vs) {
		p.more.Continue = continueToken(vs[end-1])
	}
	return p, nil
}
