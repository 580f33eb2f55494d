package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// devtools speaks the Chrome DevTools Protocol over --remote-debugging-pipe: JSON messages, each
// ended by a NUL, written to the browser's fd 3 and read from its fd 4. No library, no port.
type devtools struct {
	in      *os.File
	out     *bufio.Reader
	id      int
	session string
}

// call sends method and returns its result, skipping the events that arrive meanwhile.
func (d *devtools) call(method string, params any) (json.RawMessage, error) {
	d.id++
	msg := map[string]any{"id": d.id, "method": method, "params": params}
	if d.session != "" {
		msg["sessionId"] = d.session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if _, err := d.in.Write(append(b, 0)); err != nil {
		return nil, err
	}
	for {
		var r struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := d.next(&r, ""); err != nil {
			return nil, err
		}
		if r.ID != d.id {
			continue
		}
		if r.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, r.Error.Message)
		}
		return r.Result, nil
	}
}

// next reads one message into v; with event set, it skips messages until that event.
func (d *devtools) next(v any, event string) error {
	for {
		line, err := d.out.ReadBytes(0)
		if err != nil {
			return fmt.Errorf("reading from the browser: %w", err)
		}
		line = bytes.TrimSuffix(line, []byte{0})
		if event != "" {
			var m struct {
				Method string `json:"method"`
			}
			if json.Unmarshal(line, &m) != nil || m.Method != event {
				continue
			}
		}
		return json.Unmarshal(line, v)
	}
}

// evaluate runs expr in the page and decodes its value into v.
func (d *devtools) evaluate(expr string, v any) error {
	res, err := d.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err != nil {
		return err
	}
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if r.Exception != nil {
		return errors.New(r.Exception.Text + " " + r.Exception.Exception.Description)
	}
	return json.Unmarshal(r.Result.Value, v)
}

// openBrowser starts headless Chromium with a DevTools pipe and a page attached.
func openBrowser(t *testing.T, chromium string) *devtools {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	toBrowser, fromUs, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowser, toUs, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// The flags keep Chromium off the network this machine does not have; see the env notes.
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe")
	cmd.ExtraFiles = []*os.File{toBrowser, toUs} // fds 3 and 4
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toBrowser.Close()
	toUs.Close()
	t.Cleanup(func() {
		fromUs.Close() // the browser exits when its pipe closes
		if err := cmd.Wait(); err != nil && ctx.Err() != nil {
			t.Logf("chromium: %v\n%s", err, stderr.String())
		}
		cancel()
		fromBrowser.Close()
	})
	d := &devtools{in: fromUs, out: bufio.NewReader(fromBrowser)}
	res, err := d.call("Target.createTarget", map[string]any{"url": "about:blank"})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var target struct {
		TargetID string `json:"targetId"`
	}
	_ = json.Unmarshal(res, &target)
	res, err = d.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true})
	if err != nil {
		t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	_ = json.Unmarshal(res, &attached)
	d.session = attached.SessionID
	if _, err := d.call("Page.enable", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	return d
}

// load shows url at width × height CSS pixels, in the colour scheme asked, and waits for its load.
func (d *devtools) load(t *testing.T, url string, width, height int, scheme string) {
	t.Helper()
	for _, c := range []struct {
		method string
		params any
	}{
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}},
		{"Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{{"name": "prefers-color-scheme", "value": scheme}}}},
		{"Page.navigate", map[string]any{"url": url}},
	} {
		if _, err := d.call(c.method, c.params); err != nil {
			t.Fatal(err)
		}
	}
	var loaded struct{}
	if err := d.next(&loaded, "Page.loadEventFired"); err != nil {
		t.Fatal(err)
	}
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

// brightness is the mean of an rgb() colour's channels, 0 to 255.
func brightness(t *testing.T, rgb string) int {
	t.Helper()
	var r, g, b int
	if _, err := fmt.Sscanf(rgb, "rgb(%d, %d, %d)", &r, &g, &b); err != nil {
		if rgb == "rgba(0, 0, 0, 0)" { // transparent: the canvas's white
			return 255
		}
		t.Fatalf("colour %q: %v", rgb, err)
	}
	return (r + g + b) / 3
}

// TestStatusPageOnAPhoneAndInTheDark: at 390 px wide the page does not scroll sideways and the
// versions become cards with labelled cells; a dark system gets a dark page, a light one a light
// page. Measured in headless Chromium.
func TestStatusPageOnAPhoneAndInTheDark(t *testing.T) {
	chromium := requireTool(t, "chromium")
	d := startDaemon(t, "--demo")
	d.waitReady(t)
	b := openBrowser(t, chromium)

	for _, c := range []struct {
		width  int
		scheme string
	}{{390, "dark"}, {390, "light"}, {1280, "light"}} {
		b.load(t, d.base+"/", c.width, 844, c.scheme)
		var l layout
		if err := b.evaluate(measure, &l); err != nil {
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
		if dark := brightness(t, l.Background) < 80; dark != (c.scheme == "dark") {
			t.Errorf("%s: background %s", name, l.Background)
		}
	}
}
