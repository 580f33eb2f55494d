package web

import (
	"mime"
	"net/http"
	"time"

	"github.com/klauspost/compress/gzhttp"
)

// Server timeouts: a slow client cannot hold a connection open for free, and a large /metrics
// (100,000 versions) still has minutes to reach a slow scraper.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 5 * time.Minute
	idleTimeout       = 2 * time.Minute
)

// NewServer is the HTTP server of `purgewatch run`, with timeouts on every phase of a request.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout}
}

// contentSecurityPolicy allows the page's own inline styles and nothing else: no script, no
// frame, and forms only to the page itself (the filter is a GET form).
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secure sets the security headers of every response.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// lifecycleGuard wraps the endpoints that change what purgewatch does. Off, they answer 403, as
// Prometheus does without --web.enable-lifecycle (SIGHUP still reloads). On, they refuse what a
// browser on another site can send: a cross-origin request (Go's CrossOriginProtection reads
// Sec-Fetch-Site and Origin) and the content types a form posts without a preflight.
func lifecycleGuard(enabled bool) func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return func(h http.Handler) http.Handler {
		if !enabled {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				msg := "the lifecycle API is off: start purgewatch with --web.enable-lifecycle (or server.enableLifecycle: true)"
				if r.URL.Path == "/-/reload" {
					msg += ", or send it SIGHUP, which reloads without it"
				} else {
					msg += ", or stop it and run the command again: it then works on the state file itself"
				}
				http.Error(w, msg, http.StatusForbidden)
			})
		}
		return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); formTypes[ct] {
				http.Error(w, "refused: a "+ct+" body is what a cross-site form sends", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		}))
	}
}

var formTypes = map[string]bool{"application/x-www-form-urlencoded": true, "multipart/form-data": true, "text/plain": true}

// gzipped compresses h's answer for a client that accepts gzip: the page and the API are text
// that shrinks tenfold. (/metrics is compressed by promhttp itself.)
func gzipped(h http.HandlerFunc) http.Handler { return gzhttp.GzipHandler(h) }
