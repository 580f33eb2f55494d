// Package redact keeps secrets (webhook URLs, webhook keys, passwords, credentials in URLs) out of
// everything purgewatch writes: logs, command output, the state file, the pages and the API.
// Errors are cleaned where they are made (URL below); Set is the net under everything else.
package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Mask replaces a secret.
const Mask = "<redacted>"

// minLen is the shortest secret that is masked: masking every "ab" in a log would make it
// unreadable while hiding next to nothing.
const minLen = 4

// URL is a URL fit to be shown: scheme and host only, the rest (a webhook's secret path, a
// token in the query, user:password@) replaced by "…". An unparsable one shows as Mask.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Mask
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// Userinfo is a URL with its password replaced (Alertmanager's path is no secret, its
// user:password@ is).
func Userinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Mask
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Parts are the secret pieces of a webhook URL, to be masked wherever they appear: the URL
// itself, its path and query, its password, and each piece a receiver may echo alone: every path
// segment that looks like a token (a Slack webhook's, a Teams workflow's id) and every query value
// but a version or a date (a Teams Workflows sig).
func Parts(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	out = append(out, Password(raw)...)
	if u.Path != "" && u.Path != "/" {
		out = append(out, u.Path, u.EscapedPath())
		for seg := range strings.SplitSeq(u.Path, "/") {
			if tokenLike(seg) {
				out = append(out, seg)
			}
		}
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
		for _, values := range u.Query() {
			for _, v := range values {
				if len(v) >= minLen && strings.Trim(v, "0123456789.-") != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// tokenLike reports whether a path segment may be a credential: long, or with a digit, as
// Slack's T…/B…/token and Teams' workflow ids are, and "services", "workflows" or "hooks" are not.
func tokenLike(seg string) bool {
	return len(seg) >= 16 || len(seg) >= 8 && strings.ContainsAny(seg, "0123456789")
}

// Password is the secret piece of a URL whose path is no secret (Alertmanager's): its password
// and user:password, if it has them.
func Password(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return []string{raw}
	}
	if p, ok := u.User.Password(); ok {
		// user:password as Basic auth sends it (its base64 is a variant of every secret).
		return []string{p, u.User.String(), u.User.Username() + ":" + p}
	}
	return nil
}

// Set is a set of secrets, safe for concurrent use.
type Set struct {
	mu     sync.Mutex // serialises Replace and Add
	base   []string   // the secrets as given
	masked atomic.Pointer[[]string]
}

// Replace makes secrets (and their JSON- and URL-escaped forms) the ones masked.
func (s *Set) Replace(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = nil
	s.addLocked(secrets)
}

// Add masks secrets as well as those already in the set.
func (s *Set) Add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(secrets)
}

func (s *Set) addLocked(secrets []string) {
	for _, sec := range secrets {
		if len(sec) >= minLen && !slices.Contains(s.base, sec) {
			s.base = append(s.base, sec)
		}
	}
	var out []string
	for _, sec := range s.base {
		for _, v := range variants(sec) {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	// Longest first, so that a secret containing another is masked whole.
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	s.masked.Store(&out)
}

func variants(sec string) []string {
	out := []string{sec}
	// JSON strings as encoding/json writes them (<, >, & escaped) and as zap does (not).
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(sec) == nil {
			if inner := strings.TrimSuffix(b.String(), "\n"); len(inner) >= 2 {
				out = append(out, inner[1:len(inner)-1])
			}
		}
	}
	out = append(out, url.QueryEscape(sec), url.PathEscape(sec))
	// base64, as HTTP Basic auth and SMTP AUTH carry credentials; unpadded, so that the padded
	// form is masked too.
	out = append(out, base64.RawStdEncoding.EncodeToString([]byte(sec)), base64.RawURLEncoding.EncodeToString([]byte(sec)))
	slices.Sort(out)
	return slices.Compact(out)
}

// String masks every secret of the set in in.
func (s *Set) String(in string) string {
	p := s.masked.Load()
	if p == nil {
		return in
	}
	for _, sec := range *p {
		if strings.Contains(in, sec) {
			in = strings.ReplaceAll(in, sec, Mask)
		}
	}
	return in
}

// Bytes masks every secret of the set in b, in place when none is found.
func (s *Set) Bytes(b []byte) []byte {
	p := s.masked.Load()
	if p == nil {
		return b
	}
	for _, sec := range *p {
		if bytes.Contains(b, []byte(sec)) {
			b = bytes.ReplaceAll(b, []byte(sec), []byte(Mask))
		}
	}
	return b
}

// Writer masks the set's secrets in everything written to w. Each Write is masked on its own:
// zap writes a log entry, and fmt a line, in one call.
func (s *Set) Writer(w io.Writer) io.Writer { return &writer{set: s, w: w} }

type writer struct {
	set *Set
	mu  sync.Mutex
	w   io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.w.Write(w.set.Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Sync passes a zap Sync on to the file beneath.
func (w *writer) Sync() error {
	if s, ok := w.w.(interface{ Sync() error }); ok {
		return s.Sync()
	}
	return nil
}
