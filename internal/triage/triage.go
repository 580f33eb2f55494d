// Package triage decides, in one place, whether a soft-deleted version is routine (what an image
// pipeline prunes every time it publishes: nobody needs to act) or not, and why. The metrics, the
// page, the API and every notification read its verdict; none decides on its own.
package triage

import (
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/scanner"
)

// Reason is why a version is not routine. The vocabulary is closed: alert rules, routes and
// dashboards match on it.
type Reason string

const (
	// InUse: a VM or scale set is created from it (the audit's workloads).
	InUse Reason = "in-use"
	// LastVersion: its image definition has no live version left at all.
	LastVersion Reason = "last-version"
	// Newest: no live version of its image definition is newer; it was not superseded.
	Newest Reason = "newest"
	// UnknownUsage: the audit did not read its image definition's live versions or its
	// subscription's workloads (the audit is off, or that read failed), so nothing says it is
	// safe to let go.
	UnknownUsage Reason = "unknown-usage"
	// UnexpectedDeleter: notify.expected.deleters is set and names nobody who matches the
	// principal the Activity Log says deleted it.
	UnexpectedDeleter Reason = "unexpected-deleter"
	// UnknownDeleter: notify.expected.deleters is set and the Activity Log does not say who
	// deleted it (settled: not while the log may still be catching up).
	UnknownDeleter Reason = "unknown-deleter"
)

// Reasons lists every Reason, in the order a verdict gives them.
var Reasons = []Reason{InUse, LastVersion, Newest, UnknownUsage, UnexpectedDeleter, UnknownDeleter}

// words are the reasons as the person reading a message or the page would say them.
var words = map[Reason]string{
	InUse:             "VMs or scale sets still use it",
	Newest:            "no newer version replaced it",
	LastVersion:       "its image definition has no version left",
	UnknownUsage:      "purgewatch could not check what uses it",
	UnexpectedDeleter: "someone other than the expected deleters deleted it",
	UnknownDeleter:    "the Activity Log does not say who deleted it",
}

// Explain is reasons in words, "; " between them; a reason outside the vocabulary (from an older
// state file) as it is written.
func Explain(reasons []string) string {
	out := make([]string, len(reasons))
	for i, r := range reasons {
		if out[i] = words[Reason(r)]; out[i] == "" {
			out[i] = r
		}
	}
	return strings.Join(out, "; ")
}

// Verdict is what triage decides of one version: the set of reasons it is not routine, one bit
// each in the order of Reasons. Zero is routine. A byte a version: the daemon keeps one for every
// version of the estate.
type Verdict uint8

func verdictOf(reasons ...Reason) Verdict {
	var v Verdict
	for _, r := range reasons {
		v |= 1 << slices.Index(Reasons, r)
	}
	return v
}

// Unknown is the verdict of a version nothing was read about.
var Unknown = verdictOf(UnknownUsage)

// Routine reports whether nothing speaks against letting the version go.
func (v Verdict) Routine() bool { return v == 0 }

// Has reports whether r is one of v's reasons.
func (v Verdict) Has(r Reason) bool { return v&verdictOf(r) != 0 }

// Reasons lists v's reasons in the order of Reasons; empty, never nil, for a routine version.
func (v Verdict) Reasons() []Reason {
	out := []Reason{}
	for i, r := range Reasons {
		if v&(1<<i) != 0 {
			out = append(out, r)
		}
	}
	return out
}

// names are the reasons of every verdict, made once: a version's Triage shares its verdict's.
var names = func() [][]string {
	out := make([][]string, 1<<len(Reasons))
	for v := range out {
		out[v] = []string{}
		for _, r := range Verdict(v).Reasons() {
			out[v] = append(out[v], string(r))
		}
	}
	return out
}()

// Strings is v as scanner.Version.Triage holds it: its reasons, empty (not nil) when routine.
func (v Verdict) Strings() []string { return names[v] }

// Facts are what the audit read that triage judges by. A key absent from a map is a fact not
// known, never an empty one.
type Facts struct {
	// Live names the live, usable versions of each image definition, by its lower-cased id.
	Live map[string][]string
	// Users lists the workloads created from each soft-deleted version, by its lower-cased id.
	Users map[string][]scanner.Workload
	// Workloads holds each subscription (lower-cased id) whose VMs and scale sets were all read.
	Workloads map[string]bool
}

// Judge decides v: routine when a newer live version superseded it, nothing uses it, what the
// audit read says so, and (when expected deleters are set) one of them deleted it; an expected
// rule that matches makes it routine whatever its versions or deleter say, but never one in use
// or one whose use is not known.
func Judge(v scanner.Version, f Facts, expected config.ExpectedDeletions) Verdict {
	id := strings.ToLower(v.ID())
	image := id[:strings.LastIndex(id, "/versions/")]
	live, liveKnown := f.Live[image]
	var verdict Verdict
	switch {
	case len(f.Users[id]) > 0:
		verdict |= verdictOf(InUse)
	case !f.Workloads[strings.ToLower(v.SubscriptionID)]:
		verdict |= verdictOf(UnknownUsage)
	}
	if !liveKnown {
		verdict |= verdictOf(UnknownUsage)
	} else {
		switch {
		case len(live) == 0:
			verdict |= verdictOf(LastVersion)
		case !slices.ContainsFunc(live, func(name string) bool { return Newer(name, v.Version) }):
			verdict |= verdictOf(Newest)
		}
	}
	if len(expected.Deleters) > 0 {
		switch {
		case v.DeletedBy != nil:
			if !slices.ContainsFunc(expected.Deleters, func(p string) bool { return DeletedBy(p, v.DeletedBy) }) {
				verdict |= verdictOf(UnexpectedDeleter)
			}
		case !deleters.Pending(v):
			verdict |= verdictOf(UnknownDeleter)
		}
	}
	if verdict&verdictOf(InUse, UnknownUsage) == 0 && slices.ContainsFunc(expected.Rules, func(e config.Expected) bool { return Matches(e.Match, v) }) {
		verdict = 0
	}
	return verdict
}

// DeletedBy reports whether pattern names the principal of d: its app id or object id, or a glob
// (path.Match, case-insensitive) on its user principal name or caller.
func DeletedBy(pattern string, d *scanner.Deletion) bool {
	if strings.EqualFold(pattern, d.AppID) || strings.EqualFold(pattern, d.ObjectID) {
		return true
	}
	for _, name := range []string{d.PrincipalName, d.Caller} {
		if ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(name)); ok && name != "" {
			return true
		}
	}
	return false
}

// Mark judges every version of snap and sets its Triage. The daemon calls it once, after the
// audit and before it publishes snap.
func Mark(snap *scanner.Snapshot, f Facts, expected config.ExpectedDeletions) {
	for i := range snap.Versions {
		snap.Versions[i].Triage = Judge(snap.Versions[i], f, expected).Strings()
	}
}

// Newer reports whether version name a is newer than b, as galleries order them: Major.Minor.Patch
// compared as numbers; names that are not are compared as text.
func Newer(a, b string) bool {
	pa, oka := parts(a)
	pb, okb := parts(b)
	if !oka || !okb {
		return strings.ToLower(a) > strings.ToLower(b)
	}
	return slices.Compare(pa, pb) > 0
}

func parts(name string) ([]int64, bool) {
	fields := strings.Split(name, ".")
	out := make([]int64, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// Matches reports whether v has every name and tag m sets (names case-insensitively, tags
// exactly). Routine, when set, is matched by the caller, which knows the verdict.
func Matches(m config.Match, v scanner.Version) bool {
	for _, f := range []struct{ want, got string }{{m.Subscription, v.SubscriptionID},
		{m.ResourceGroup, v.ResourceGroup}, {m.Gallery, v.Gallery}, {m.Image, v.Image}} {
		if f.want != "" && !strings.EqualFold(f.want, f.got) {
			return false
		}
	}
	if m.DeletedBy != "" && (v.DeletedBy == nil || !DeletedBy(m.DeletedBy, v.DeletedBy)) {
		return false
	}
	for k, want := range m.Tags {
		if got, ok := v.Tags[k]; !ok || got != want {
			return false
		}
	}
	return true
}
