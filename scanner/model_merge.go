package scanner

import (
	"slices"
	"strings"
)

// Merge returns next with, under each scope that failed in next, what prev knew of it: a
// subscription, gallery or image definition that could not be read keeps its last good versions
// and galleries, while next.Errors still shows the failure. prev may be nil. Neither input is
// modified.
func Merge(prev, next *Snapshot) *Snapshot {
	if prev == nil || len(next.Errors) == 0 {
		return next
	}
	failed := make([]string, len(next.Errors))
	for i, e := range next.Errors {
		failed[i] = strings.ToLower(e.Scope)
	}
	underFailed := func(id string) bool {
		id = strings.ToLower(id)
		return slices.ContainsFunc(failed, func(scope string) bool { return within(id, scope) })
	}
	out := *next
	if kept := keepUnderFailed(prev.Versions, next.Versions, Version.ID, underFailed); kept != nil {
		out.Versions = kept
		SortVersions(out.Versions)
	}
	if kept := keepUnderFailed(prev.Galleries, next.Galleries, func(g Gallery) string { return g.ID }, underFailed); kept != nil {
		out.Galleries = kept
		slices.SortFunc(out.Galleries, func(a, b Gallery) int { return strings.Compare(a.ID, b.ID) })
	}
	out.Stats.Versions, out.Stats.Galleries = len(out.Versions), len(out.Galleries)
	return &out
}

// keepUnderFailed returns next plus the items of prev that next lacks and that lie under a failed
// scope, in a new slice; nil when there are none to keep.
func keepUnderFailed[T any](prev, next []T, id func(T) string, underFailed func(string) bool) []T {
	seen := make(map[string]bool, len(next))
	for _, x := range next {
		seen[strings.ToLower(id(x))] = true
	}
	var kept []T
	for _, x := range prev {
		if !seen[strings.ToLower(id(x))] && underFailed(id(x)) {
			kept = append(kept, x)
		}
	}
	if kept == nil {
		return nil
	}
	return append(slices.Clip(next), kept...)
}

// within reports whether lower-cased ARM id lies at or below lower-cased scope. A version's id
// (.../galleries/G/images/I/versions/V) lies within its image definition, gallery and subscription.
func within(id, scope string) bool {
	return scope == RootScope || id == scope || (strings.HasPrefix(id, scope) && id[len(scope)] == '/')
}
