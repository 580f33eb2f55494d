// Package silence is Alertmanager's silences for purgewatch's notifications: matchers on the
// metric label names of a soft-deleted version (and its ARM id), an author, a comment and an end.
// A silence stops notifications, never the page or the metrics.
package silence

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Names are the label names a matcher may use: a version's metric labels, and id for its ARM id.
var Names = []string{"subscription_id", "resource_group", "gallery", "image", "version", "location", "routine", "deleted_by", "id"}

// Op is a matcher's operator, amtool's: =, !=, =~, !~.
type Op string

const (
	Equal     Op = "="
	NotEqual  Op = "!="
	Regexp    Op = "=~"
	NotRegexp Op = "!~"
)

// Matcher is one condition on a label.
type Matcher struct {
	Name  string `json:"name"`
	Op    Op     `json:"op"`
	Value string `json:"value"`
	re    *regexp.Regexp
}

var matcherSyntax = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$`)

// ParseMatcher reads one matcher as amtool writes it: gallery=prodimages, image=~"ubuntu-.*",
// version!=1.0.0 (a value may be double-quoted, with Go's escapes).
func ParseMatcher(s string) (Matcher, error) {
	m := matcherSyntax.FindStringSubmatch(s)
	if m == nil {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~regex or name!~regex", s)
	}
	value := m[3]
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: the quoted value is not closed or has a bad escape", s)
		}
		value = v
	}
	return NewMatcher(m[1], Op(m[2]), value)
}

// NewMatcher checks a matcher: a known label name, an operator, a regular expression that
// compiles (anchored, as Alertmanager anchors them).
func NewMatcher(name string, op Op, value string) (Matcher, error) {
	if !slices.Contains(Names, name) {
		return Matcher{}, fmt.Errorf("matcher on %q: not a label name; use one of %s", name, strings.Join(Names, ", "))
	}
	m := Matcher{Name: name, Op: op, Value: value}
	switch op {
	case Equal, NotEqual:
	case Regexp, NotRegexp:
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %s%s%q: %w", name, op, value, err)
		}
		m.re = re
	default:
		return Matcher{}, fmt.Errorf("matcher on %q: %q is not one of =, !=, =~, !~", name, op)
	}
	return m, nil
}

// Matches reports whether labels satisfy m; an absent label is the empty string, as in Prometheus.
// Names are compared exactly except id, whose ARM spelling varies in case.
func (m *Matcher) Matches(labels LabelFunc) bool {
	got := labels(m.Name)
	switch m.Op {
	case Equal:
		return got == m.Value || (m.Name == "id" && strings.EqualFold(got, m.Value))
	case NotEqual:
		return got != m.Value && !(m.Name == "id" && strings.EqualFold(got, m.Value))
	case Regexp:
		return m.re != nil && m.re.MatchString(got)
	case NotRegexp:
		return m.re != nil && !m.re.MatchString(got)
	}
	return false
}

// UnmarshalJSON reads a matcher back (the state file, the API) and checks it as NewMatcher does.
func (m *Matcher) UnmarshalJSON(data []byte) error {
	var raw struct {
		Name  string `json:"name"`
		Op    Op     `json:"op"`
		Value string `json:"value"`
		// Alertmanager's API writes the operator as two flags instead.
		IsRegex bool  `json:"isRegex"`
		IsEqual *bool `json:"isEqual"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw.Op == "" {
		equal := raw.IsEqual == nil || *raw.IsEqual
		raw.Op = map[[2]bool]Op{{false, true}: Equal, {false, false}: NotEqual, {true, true}: Regexp, {true, false}: NotRegexp}[[2]bool{raw.IsRegex, equal}]
	}
	checked, err := NewMatcher(raw.Name, raw.Op, raw.Value)
	if err != nil {
		return err
	}
	*m = checked
	return nil
}

// String is the matcher as amtool writes it.
func (m Matcher) String() string { return m.Name + string(m.Op) + strconv.Quote(m.Value) }
