package armsim

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Running is a Server listening on loopback.
type Running struct {
	URL  string
	srv  *http.Server
	done chan error
}

// Start serves h on a free loopback port until Close.
func Start(h http.Handler) (*Running, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	r := &Running{URL: "http://" + ln.Addr().String(), done: make(chan error, 1),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { r.done <- r.srv.Serve(ln) }()
	return r, nil
}

// Close stops the simulator at once, connections and all, and waits for its goroutine. Nothing
// needs draining, and a graceful shutdown would wait on connections the client dialled but never
// used (net/http counts a new connection as busy for its first 5 s).
func (r *Running) Close() error {
	err := r.srv.Close()
	if serveErr := <-r.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
