package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

type hangingARM struct {
	*httptest.Server
	arrived chan struct{}
}

// newHangingARM answers nothing until the request is cancelled.
func newHangingARM(t *testing.T) *hangingARM {
	h := &hangingARM{arrived: make(chan struct{})}
	var once sync.Once
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(h.arrived) })
		<-r.Context().Done()
	}))
	t.Cleanup(h.Close)
	return h
}
