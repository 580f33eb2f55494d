package web

import (
	"html/template"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/scanner"
)

var funcs = template.FuncMap{
	"left":  humantime.Left,
	"short": humantime.Short,
	"utc":   utc,
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return humantime.Short(now.Sub(t)) + " ago"
	},
	// when is a time either side of now: "in 2d 3h" or "5h 0m ago".
	"when": func(now, t time.Time) string {
		if t.After(now) {
			return "in " + humantime.Short(t.Sub(now))
		}
		return humantime.Short(now.Sub(t)) + " ago"
	},
	"ms": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	// path is an ARM id that may break after each slash, never inside a name.
	"path": func(id string) template.HTML {
		parts := strings.Split(id, "/")
		for i, p := range parts {
			parts[i] = template.HTMLEscapeString(p)
		}
		return template.HTML(strings.Join(parts, "/<wbr>"))
	},
	// guid is a GUID as its ends (3f6c2a9e…0a13; the whole one in the title), anything else whole.
	"guid": func(s string) string {
		if len(s) == 36 && strings.Count(s, "-") == 4 {
			return s[:8] + "…" + s[32:]
		}
		return s
	},
	"name": func(id string) string { return id[strings.LastIndex(id, "/")+1:] },
	// The filter's choices, for its form and the counts.
	"urgencies": func() []scanner.Urgency {
		return []scanner.Urgency{scanner.UrgencyOverdue, scanner.UrgencyCritical, scanner.UrgencyUnusable, scanner.UrgencyWarning, scanner.UrgencyOK}
	},
	"deadlines": func() []string { return deadlines },
	"states":    func() []string { return states },
}

func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
