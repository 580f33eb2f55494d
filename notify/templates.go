package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"maps"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/internal/recovery"
	"github.com/purgewatch/purgewatch/internal/triage"
	"github.com/purgewatch/purgewatch/scanner"
)

//go:embed templates/*.tmpl
var builtin embed.FS

var funcs = map[string]any{
	"left":      func(now, t time.Time) string { return humantime.Left(t.Sub(now)) },
	"purged":    purged,
	"deletedBy": func(now time.Time, v scanner.Version) string { return deleters.Describe(v, now) },
	// kept is what a digest's versions keep billed, with its estimate: "" when not known.
	"kept": func(d *Digest) string {
		if d == nil || d.Retained <= 0 {
			return ""
		}
		s := "They keep " + humantime.Bytes(d.Retained) + " of replicas billed until their purge"
		if c := d.Cost(); c > 0 {
			s += fmt.Sprintf(" (≈ %.2f a month)", c)
		}
		return s + "."
	},
	// retained is what a version keeps billed until the purge, "" when not known.
	"retained": func(v scanner.Version) string {
		if v.RetainedBytes <= 0 {
			return ""
		}
		return "keeps " + humantime.Bytes(v.RetainedBytes) + " of replicas billed until the purge"
	},
	"utc":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"threshold": FormatThreshold,
	"add":       func(a, b int) int { return a + b },
	// restore is the recovery command, or "" for an id that is not well formed.
	"restore": func(endpoint, id string) string {
		cmd, _ := recovery.RecoverCommand(endpoint, id)
		return cmd
	},
	"headline": headline,
	"consumed": consumedText,
	"grouped":  grouped,
	"more":     func(c DigestCount) int { return c.Count - len(c.Versions) },
	"why":      triage.Explain,
	"esc":      func(s string) string { return s },
	"code":     func(s string) string { return s },
	"colour":   colour,
}

// colour is an event's colour, the status page's for the same urgency: a reader who knows one
// reads the other.
func colour(e Event, now time.Time) string {
	switch {
	case e.Kind == KindResolved:
		return "#15803d"
	case !now.Before(e.Version.PurgeAt):
		return "#7f1d1d" // overdue
	case e.Kind == KindUnusable:
		return "#7c3aed"
	case e.Severity == "critical":
		return "#dc2626"
	}
	return "#d97706"
}

// escapers are each chat's "esc" and "code": what a name, id or message from Azure goes through
// so that it reads as text, never as markup (a link, a mention, bold, a broken message), in the
// context it is rendered in: running text (esc) or a code span (code).
var escapers = map[string]struct{ esc, code func(string) string }{
	"slack": {escapeSlackText, escapeSlackCode},
	"teams": {escapeTeams, escapeTeams},
}

// escapeMrkdwn escapes what Slack's mrkdwn gives meaning to everywhere: & < > (links, mentions,
// entities).
var escapeMrkdwn = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// escapeSlackCode is for a value inside a code span. mrkdwn has no escape for a backtick, which
// would end the span and let the rest (*bold*, a bare link) be read as markup: it becomes a
// look-alike (U+02CB).
var escapeSlackCode = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "ˋ").Replace

// escapeSlackText is for a value in running text: the code span's, and look-alikes for the marks
// of bold and strikethrough (U+2217, U+223C), which have no escape either.
var escapeSlackText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "ˋ", "*", "∗", "~", "∼").Replace

// escapeTeams escapes the same as Slack, and the brackets of a markdown link.
var escapeTeams = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`).Replace

// templates are one channel type's text and HTML templates: the built-in ones, with any the
// channel's template file defines in their place.
type templates struct {
	text *template.Template
	html *htmltemplate.Template
}

func loadTemplates(channelType, override string) (*templates, error) {
	name := "templates/" + channelType + ".tmpl"
	t := &templates{}
	var err error
	fm := template.FuncMap(funcs)
	if e, ok := escapers[channelType]; ok {
		fm = maps.Clone(fm)
		fm["esc"], fm["code"] = e.esc, e.code
	}
	if t.text, err = template.New(channelType).Funcs(fm).ParseFS(builtin, name); err != nil {
		return nil, fmt.Errorf("built-in template: %w", err)
	}
	if channelType == "email" {
		if t.html, err = htmltemplate.New(channelType).Funcs(funcs).ParseFS(builtin, "templates/email.html.tmpl"); err != nil {
			return nil, fmt.Errorf("built-in template: %w", err)
		}
	}
	if override == "" {
		return t, nil
	}
	src, err := os.ReadFile(override)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", override, err)
	}
	if t.text, err = t.text.Parse(string(src)); err != nil {
		return nil, fmt.Errorf("template %s: %w", override, err)
	}
	if t.html != nil {
		if t.html, err = t.html.Parse(string(src)); err != nil {
			return nil, fmt.Errorf("template %s: %w", override, err)
		}
	}
	return t, nil
}

// messageData is what a message's templates see.
type messageData struct {
	Message
	// Events are the message's as listed: each version once (listing.go).
	Events                                []Event
	Expiring, Unusable, Resolved, Deleted int
	// Test: the message is `purgewatch notify test`'s sample, about a made-up version.
	Test bool
	// Versions counts the versions the open events are about (one may have two deadlines), and
	// Overdue those past their purge time, still listed.
	Versions, Overdue int
	// Consumed are the consumed-deleted events: other publishers' versions the workloads use,
	// alone in their messages; FirstEnd the soonest of their consumption ends (zero: not known).
	Consumed []Event
	FirstEnd time.Time
	// Soonest is the open event whose deadline falls first; nil when the message only resolves.
	// Next is the first whose deadline is still ahead.
	Soonest, Next *Event
	// Scan is a scan-failing event or its scan-recovered resolution: such a message is about
	// purgewatch's sight of the estate and carries nothing else. Digest is the routine digest,
	// alone in its message too.
	Scan, Digest *Event
	// Summary is the subject without its tag, the first line of an e-mail's body; Page the status
	// page's address, "" when --web.external-url is not set. Set by the channels that use them.
	Summary, Page string
}

func newMessageData(m Message) messageData {
	d := messageData{Message: m, Events: listed(m.Events), Page: statusPage(m.ExternalURL, nil)}
	open := map[string]bool{}
	for i := range d.Events {
		e := &d.Events[i]
		d.Test = d.Test || e.Test
		if e.Scan != nil {
			d.Scan = e
			continue
		}
		if e.Digest != nil {
			d.Digest = e
			continue
		}
		if c := e.Consumed; c != nil {
			d.Consumed = append(d.Consumed, *e)
			if !c.ConsumptionEndsAt.IsZero() && (d.FirstEnd.IsZero() || c.ConsumptionEndsAt.Before(d.FirstEnd)) {
				d.FirstEnd = c.ConsumptionEndsAt
			}
			continue
		}
		switch e.Kind {
		case KindExpiring:
			d.Expiring++
		case KindUnusable:
			d.Unusable++
		case KindDeleted:
			d.Deleted++
		case KindResolved:
			d.Resolved++
			continue
		}
		if d.Soonest == nil || e.At().Before(d.Soonest.At()) {
			d.Soonest = e
		}
		if e.At().After(m.Now) && (d.Next == nil || e.At().Before(d.Next.At())) {
			d.Next = e
		}
		key := e.vkey()
		if !open[key] {
			open[key] = true
			d.Versions++
			if !m.Now.Before(e.Version.PurgeAt) {
				d.Overdue++
			}
		}
	}
	return d
}

// headline is a message about versions in one line, the same on every channel (the chats'
// title, the e-mail's subject): how many versions, of which how many are not routine, unusable
// or overdue, and the next deadline.
func headline(d messageData) string {
	if d.Test {
		d.Test = false
		return "TEST from purgewatch notify test, about a made-up version, nothing to do: " + headline(d)
	}
	if d.Digest != nil {
		g := d.Digest.Digest
		return fmt.Sprintf("Routine pruning: %d image version%s soft-deleted since %s, %d purged before %s; nothing to do",
			g.Pruned.Count, plural(g.Pruned.Count), g.Since.UTC().Format("Jan 2 15:04"), g.Purging.Count, g.Next.UTC().Format("Jan 2 15:04 UTC"))
	}
	if n := len(d.Consumed); n > 0 {
		line := "1 image version your workloads use was deleted by its publisher"
		if n > 1 {
			line = fmt.Sprintf("%d image versions your workloads use were deleted by their publishers", n)
		}
		switch at := d.FirstEnd.UTC().Format("2006-01-02 15:04 UTC"); {
		case d.FirstEnd.IsZero():
		case d.FirstEnd.After(d.Now):
			line += fmt.Sprintf(": new VMs and scale-outs fail in %s (%s)", humantime.Short(d.FirstEnd.Sub(d.Now)), at)
		default:
			line += ": new VMs and scale-outs fail since " + at
		}
		return line
	}
	if d.Soonest == nil {
		return fmt.Sprintf("%d soft-deleted image version%s left the recycle bin", d.Resolved, plural(d.Resolved))
	}
	var b strings.Builder
	if d.Versions == 1 {
		b.WriteString("1 soft-deleted image version needs attention")
	} else {
		fmt.Fprintf(&b, "%d soft-deleted image versions need attention", d.Versions)
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{d.Deleted, "not routine"}, {d.Unusable, "unusable"}, {d.Overdue, "overdue"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if e := d.Next; e != nil {
		what := "purged"
		if e.Deadline == scanner.DeadlineConsumptionEnd {
			what = "unusable"
		}
		parts = append(parts, fmt.Sprintf("first %s in %s (%s)", what, humantime.Short(e.At().Sub(d.Now)), e.At().UTC().Format("2006-01-02 15:04 UTC")))
	}
	if len(parts) > 0 {
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	if d.Resolved > 0 {
		fmt.Fprintf(&b, "; %d resolved", d.Resolved)
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// group is a digest's versions of one image definition: "gallery/image" and its versions.
type group struct {
	Name     string
	Versions []string
}

// grouped lists versions by image definition, in the order they come: a pipeline prunes several
// of one definition at a time, and they read best on one line.
func grouped(vs []scanner.Version) []group {
	var out []group
	at := map[string]int{}
	for _, v := range vs {
		name := v.Gallery + "/" + v.Image
		i, ok := at[name]
		if !ok {
			i, at[name] = len(out), len(out)
			out = append(out, group{Name: name})
		}
		out[i].Versions = append(out[i].Versions, v.Version)
	}
	return out
}

// eventData is what an event's template sees.
type eventData struct {
	Event
	Now         time.Time
	ARMEndpoint string
}

func (t *templates) render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := t.text.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("template %q: %w", name, err)
	}
	return b.String(), nil
}

func (t *templates) renderHTML(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := t.html.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("template %q: %w", name, err)
	}
	return b.String(), nil
}

// renderEvents renders the "event" template for each event of m as listed.
func (t *templates) renderEvents(m Message) ([]string, error) {
	events := listed(m.Events)
	out := make([]string, len(events))
	for i, e := range events {
		s, err := t.render("event", eventData{Event: e, Now: m.Now, ARMEndpoint: m.ARMEndpoint})
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}
