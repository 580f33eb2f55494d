package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

// demoInBrowser is `purgewatch run --demo`, ready, and a headless Chromium to look at it with.
func demoInBrowser(t *testing.T) (*daemonUnderTest, *testtool.Browser) {
	t.Helper()
	chromium := requireTool(t, "chromium")
	d := startDaemon(t, "--demo")
	d.waitReady(t)
	return d, testtool.OpenBrowser(t, chromium)
}

// layout is what the page looks like, measured in the browser.
type layout struct {
	ScrollWidth, ClientWidth int
	Background               string
	RowDisplay, HeadDisplay  string
	Label                    string
}

const measure = `JSON.parse(JSON.stringify({
	ScrollWidth: document.documentElement.scrollWidth, ClientWidth: document.documentElement.clientWidth,
	Background: getComputedStyle(document.body).backgroundColor,
	RowDisplay: getComputedStyle(document.querySelector("tr[data-id]")).display,
	HeadDisplay: getComputedStyle(document.querySelector("#versions ~ table thead")).display,
	Label: (c => c ? getComputedStyle(c, "::before").content : "no labelled cell")(document.querySelector("tr[data-id] td[data-label]")),
}))`

// TestStatusPageOnAPhoneAndInTheDark: at 390 px wide the page does not scroll sideways and the
// versions become cards with labelled cells; a dark system gets a dark page, a light one a light
// page. Measured in headless Chromium.
func TestStatusPageOnAPhoneAndInTheDark(t *testing.T) {
	d, b := demoInBrowser(t)

	for _, c := range []struct {
		width  int
		scheme string
	}{{390, "dark"}, {390, "light"}, {1280, "light"}} {
		b.Load(t, d.base+"/", c.width, 844, c.scheme)
		var l layout
		if err := b.Evaluate(measure, &l); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%d px, %s", c.width, c.scheme)
		// The window less a desktop scroll bar, at most.
		if l.ScrollWidth > l.ClientWidth || l.ClientWidth > c.width || l.ClientWidth < c.width-20 {
			t.Errorf("%s: the page is %d px wide in a %d px window: it scrolls sideways", name, l.ScrollWidth, l.ClientWidth)
		}
		phone := c.width < 720
		if cards := l.RowDisplay == "block" && l.HeadDisplay == "none" && l.Label == `"state: "`; cards != phone {
			t.Errorf("%s: rows display %q, header %q, label %s; cards wanted: %v", name, l.RowDisplay, l.HeadDisplay, l.Label, phone)
		}
		if dark := testtool.Brightness(t, l.Background) < 80; dark != (c.scheme == "dark") {
			t.Errorf("%s: background %s", name, l.Background)
		}
	}
}

// readability is what the newcomer measured: the lowest contrast of any visible text against
// what it is drawn on (WCAG 2 relative luminance), and the identifiers broken across lines.
type readability struct {
	Worst   float64
	Where   string
	Broken  []string
	Refresh string
}

const measureReadability = `(() => {
	const lum = c => { const m = c.match(/[\d.]+/g).map(Number); const [r, g, b] = m.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
	const alpha = c => { const m = c.match(/[\d.]+/g).map(Number); return m.length > 3 ? m[3] : 1; };
	const bg = el => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor; if (alpha(c) > 0.5) return c; } return getComputedStyle(document.documentElement).backgroundColor.match(/[\d.]+/g) && alpha(getComputedStyle(document.documentElement).backgroundColor) > 0.5 ? getComputedStyle(document.documentElement).backgroundColor : (matchMedia("(prefers-color-scheme: dark)").matches ? "rgb(0,0,0)" : "rgb(255,255,255)"); };
	let worst = 99, where = "";
	const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n; (n = walker.nextNode());) {
		const el = n.parentElement;
		if (!n.textContent.trim() || !el.getClientRects().length || getComputedStyle(el).visibility === "hidden") continue;
		if (el.closest("details:not([open]) > :not(summary)")) continue;
		const fg = lum(getComputedStyle(el).color), b = lum(bg(el));
		const ratio = (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05);
		if (ratio < worst) { worst = ratio; where = el.tagName + "." + el.className + ": " + n.textContent.trim().slice(0, 40) + " (" + getComputedStyle(el).color + " on " + bg(el) + ")"; }
	}
	const broken = [];
	for (const el of document.querySelectorAll(".id")) {
		const r = document.createRange(); r.selectNodeContents(el);
		const lines = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
		if (lines.size > 1) broken.push(el.textContent);
	}
	return {Worst: Math.round(worst * 100) / 100, Where: where, Broken: broken, Refresh: document.querySelector('meta[http-equiv="refresh"]') ? "meta" : ""};
})()`

// TestStatusPageReadsAtAGlance: every text at WCAG AA contrast (4.5:1) in both themes, at a
// desktop's width and a phone's; no name or id broken across lines mid-word; no refresh that
// reloads the page under a reader (a meta refresh closes the recovery command someone opened).
// A screenshot of each is taken, kept in $SCREENSHOTS when set.
func TestStatusPageReadsAtAGlance(t *testing.T) {
	d, b := demoInBrowser(t)
	for _, c := range []struct {
		width  int
		scheme string
	}{{1280, "light"}, {1280, "dark"}, {390, "light"}, {390, "dark"}} {
		name := fmt.Sprintf("%d px, %s", c.width, c.scheme)
		b.Load(t, d.base+"/", c.width, 1000, c.scheme)
		var r readability
		if err := b.Evaluate(measureReadability, &r); err != nil {
			t.Fatal(err)
		}
		if r.Worst < 4.5 {
			t.Errorf("%s: contrast %.2f:1 at %s; want at least 4.5:1", name, r.Worst, r.Where)
		}
		if len(r.Broken) > 0 {
			t.Errorf("%s: broken across lines: %q", name, r.Broken)
		}
		if r.Refresh != "" {
			t.Errorf("%s: a meta refresh reloads the page under its reader", name)
		}
		dir := os.Getenv("SCREENSHOTS") // where to keep them; the test's own directory otherwise
		if dir == "" {
			dir = t.TempDir()
		}
		shot := filepath.Join(dir, fmt.Sprintf("status-%d-%s.png", c.width, c.scheme))
		b.Screenshot(t, shot)
		if png, err := os.ReadFile(shot); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s: no screenshot at %s (%v)", name, shot, err)
		}
	}
}
