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
	seen := make(map[string]bool, len(next.Versions))
	for _, v := range next.Versions {
		seen[strings.ToLower(v.ID)] = true
	}
	var kept []Version
	for _, v := range prev.Versions {
		if !seen[strings.ToLower(v.ID)] && underFailed(v.ID) {
			kept = append(kept, v)
		}
	}
	if len(kept) > 0 {
		out.Versions = append(slices.Clip(next.Versions), kept...)
		SortVersions(out.Versions)
	}

	seenG := make(map[string]bool, len(next.Galleries))
	for _, g := range next.Galleries {
		seenG[strings.ToLower(g.ID)] = true
	}
	var keptG []Gallery
	for _, g := range prev.Galleries {
		if !seenG[strings.ToLower(g.ID)] && underFailed(g.ID) {
			keptG = append(keptG, g)
		}
	}
	if len(keptG) > 0 {
		out.Galleries = append(slices.Clip(next.Galleries), keptG...)
		slices.SortFunc(out.Galleries, func(a, b Gallery) int { return strings.Compare(a.ID, b.ID) })
	}
	out.Stats.Versions, out.Stats.Galleries = len(out.Versions), len(out.Galleries)
	return &out
}

// within reports whether lower-cased ARM id lies at or below lower-cased scope. A version's id
// (.../galleries/G/images/I/versions/V) lies within its image definition, gallery and subscription.
func within(id, scope string) bool {
	return id == scope || (strings.HasPrefix(id, scope) && id[len(scope)] == '/')
}
