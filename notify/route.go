package notify

import (
	"slices"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/scanner"
)

// router picks the channels a version's events go to. A channel that no route names gets every
// version (so without routes, every channel gets everything); a channel a route names gets the
// versions its routes match. A version that would reach no channel at all goes to every channel:
// a gap in the routes never drops a warning.
type router struct {
	routes []config.Route
	all    []string
}

func (r router) channels(v scanner.Version) []string {
	var out []string
	for _, name := range r.all {
		named := false
		for _, rt := range r.routes {
			if slices.Contains(rt.Channels, name) {
				named = true
				if matches(rt.Match, v) {
					out = append(out, name)
					break
				}
			}
		}
		if !named {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return r.all
	}
	return out
}

// matches is a route's match: names and tags as triage matches them, and the verdict.
func matches(m config.Match, v scanner.Version) bool {
	if m.Routine != nil && *m.Routine != v.Routine() {
		return false
	}
	return triage.Matches(m, v)
}
