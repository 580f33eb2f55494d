package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/notify"
)

// A running purgewatch holds its state file; `notify outbox` and `notify retry` then ask it over
// HTTP instead.

// daemonURL is where the running purgewatch listens: --url, or server.listen on loopback.
func daemonURL(cfg *config.Config, flagURL string) string {
	if flagURL != "" {
		return strings.TrimSuffix(flagURL, "/")
	}
	host, port, err := net.SplitHostPort(cfg.Server.Listen)
	if err != nil {
		return "http://" + cfg.Server.Listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

var daemonClient = &http.Client{Timeout: 30 * time.Second}

func daemonLetters(ctx context.Context, base, channel string) ([]notify.Letter, error) {
	var out []notify.Letter
	err := askDaemon(ctx, http.MethodGet, base+"/api/v1/outbox?channel="+neturl.QueryEscape(channel), &out)
	return out, err
}

func daemonRetry(ctx context.Context, base, channel string) (int, error) {
	var out struct {
		Requeued int `json:"requeued"`
	}
	err := askDaemon(ctx, http.MethodPost, base+"/api/v1/outbox/retry?channel="+neturl.QueryEscape(channel), &out)
	return out.Requeued, err
}

func askDaemon(ctx context.Context, method, url string, into any) error {
	return askDaemonWith(ctx, method, url, nil, into)
}

// askDaemonWith sends body (JSON; nil for none) and decodes the answer into into.
func askDaemonWith(ctx context.Context, method, url string, body []byte, into any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := daemonClient.Do(req)
	if err != nil {
		return fmt.Errorf("the state file is held by a running purgewatch, which cannot be reached (--url): %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(answer, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(answer))
		}
		return fmt.Errorf("the running purgewatch answered %s %s: HTTP %d: %s", method, req.URL.Path, resp.StatusCode, e.Error)
	}
	if err := json.Unmarshal(answer, into); err != nil {
		return fmt.Errorf("the running purgewatch's answer to %s: %w", req.URL.Path, err)
	}
	return nil
}
