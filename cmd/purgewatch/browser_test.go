package main

import (
	"fmt"
	"testing"

	"github.com/purgewatch/purgewatch/internal/testtool"
)

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
	chromium := requireTool(t, "chromium")
	d := startDaemon(t, "--demo")
	d.waitReady(t)
	b := testtool.OpenBrowser(t, chromium)

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
		if cards := l.RowDisplay == "block" && l.HeadDisplay == "none" && l.Label == `"purge at: "`; cards != phone {
			t.Errorf("%s: rows display %q, header %q, label %s; cards wanted: %v", name, l.RowDisplay, l.HeadDisplay, l.Label, phone)
		}
		if dark := testtool.Brightness(t, l.Background) < 80; dark != (c.scheme == "dark") {
			t.Errorf("%s: background %s", name, l.Background)
		}
	}
}
