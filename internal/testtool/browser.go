package testtool

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

// Browser speaks the Chrome DevTools Protocol over --remote-debugging-pipe: JSON messages, each
// ended by a NUL, written to the browser's fd 3 and read from its fd 4. No library, no port.
type Browser struct {
	in      *os.File
	out     *bufio.Reader
	id      int
	session string
}

// call sends method and returns its result, skipping the events that arrive meanwhile.
func (d *Browser) call(method string, params any) (json.RawMessage, error) {
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
func (d *Browser) next(v any, event string) error {
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

// Evaluate runs expr in the page and decodes its value into v.
func (d *Browser) Evaluate(expr string, v any) error {
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

// OpenBrowser starts headless Chromium with a DevTools pipe and a page attached; it ends with
// the test.
func OpenBrowser(t testing.TB, chromium string) *Browser {
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
	d := &Browser{in: fromUs, out: bufio.NewReader(fromBrowser)}
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

// Load shows url at width × height CSS pixels, in the colour scheme asked, and waits for its load.
func (d *Browser) Load(t testing.TB, url string, width, height int, scheme string) {
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

// Screenshot writes what the page shows, the whole page, as a PNG to path.
func (d *Browser) Screenshot(t testing.TB, path string) {
	t.Helper()
	raw, err := d.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	if err != nil {
		t.Fatal(err)
	}
	var shot struct{ Data []byte }
	if err := json.Unmarshal(raw, &shot); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, shot.Data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Brightness is the mean of an rgb() colour's channels, 0 to 255.
func Brightness(t testing.TB, rgb string) int {
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
