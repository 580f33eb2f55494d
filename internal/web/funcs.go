package web

import (
	"html/template"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/humantime"
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
	"ms":   func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"name": func(id string) string { return id[strings.LastIndex(id, "/")+1:] },
}

func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
