package armsim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"golang.org/x/time/rate"

	"github.com/purgewatch/purgewatch/internal/clock"
)

// Fault makes requests under Scope fail. Scope is an ARM id: a subscription
// (/subscriptions/S), a gallery, an image definition (.../galleries/G/images/I, which covers its
// recycle-bin listing), a subscription's VMs or scale sets (/subscriptions/S/providers/Microsoft.Compute/
// virtualMachines) or "/subscriptions" for the subscription list itself.
type Fault struct {
	Scope string
	// Status and Code/Message make an ARM error response; BadJSON sends a 200 with a broken body.
	Status  int
	Code    string
	Message string
	BadJSON bool
	// RetryAfter is sent with a 429.
	RetryAfter time.Duration
	// Times is how many requests fail before the fault heals; 0 means for ever.
	Times int
	// Method limits the fault to one HTTP method; empty means any.
	Method string

	// The hostile answers: each is how a broken service or a man in the middle was seen to, or
	// could, answer.
	// Raw sends Body as it is, with Status (200 when 0) and Header: an empty body, "null", "{}".
	Raw    bool
	Body   string
	Header http.Header
	// Stall holds the request until the client gives up.
	Stall bool
	// LoopLink makes a listing's nextLink point back at its first page, for ever.
	LoopLink bool
	// ForeignLink makes a listing's nextLink point at this base URL instead (another host).
	ForeignLink string
	// Duplicate lists every item of a listing page twice.
	Duplicate bool
	// Redirect answers 307 to this base URL with the request's path and query (another host).
	Redirect string
}

// rewrites reports whether the fault changes a served answer rather than replacing it.
func (f *Fault) rewrites() bool { return f.LoopLink || f.ForeignLink != "" || f.Duplicate }

// Options tunes a Server.
type Options struct {
	// PageSize is the number of items per page before a nextLink; 0 means 100.
	PageSize int
	// Latency is added to every request (real time: for benchmarks and demos).
	Latency time.Duration
	// Budget is each subscription's read bucket; zero means no throttling.
	Burst     int
	PerSecond float64
	Clock     clock.Clock
	// OnRequest, when set, is called as each request arrives (tests synchronise on it).
	OnRequest func(*http.Request)
	// RestoreMethods are the methods a restore is accepted with; empty means PATCH and PUT.
	RestoreMethods []string
	// OperationPolls is how many polls a long-running operation answers InProgress.
	OperationPolls int
	// GraphQuota is how many Resource Graph queries a GraphWindow (default 5 s) allows; zero
	// means no limit. Resource Graph documents 15 per 5 s.
	GraphQuota  int
	GraphWindow time.Duration
	// ActivityLogDelay is how long after a deletion the Activity Log lists it (minutes, in
	// Azure); Caller is who the deletes this server receives are logged as (none when nil).
	ActivityLogDelay time.Duration
	Caller           *Caller
}

// Server is an http.Handler that answers like ARM for an Estate.
type Server struct {
	opts Options

	mu      sync.Mutex
	estate  Estate
	faults  []*Fault
	buckets map[string]*rate.Limiter
	// Resource Graph's quota: the current window's start and the queries spent in it.
	graphWindow time.Time
	graphSpent  int
	requests    []string
	writes      []Write
	ops         map[string]int
	opSeq       int
	churned     int // versions moved by Churn so far
}

// New returns a Server for estate.
func New(estate Estate, opts Options) *Server {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	return &Server{opts: opts, estate: estate, buckets: map[string]*rate.Limiter{}, ops: map[string]int{}}
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Clear removes every fault: the service heals.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetEstate replaces the estate (a version recovered, purged or newly deleted between scans).
func (s *Server) SetEstate(e Estate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.estate = e
}

// Requests returns "METHOD path?query" for every request served so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
	s.mu.Unlock()
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(r)
	}
	if s.opts.Latency > 0 {
		t := time.NewTimer(s.opts.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	rt, ok := route(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "InvalidResourceType", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
		return
	}
	if s.throttled(w, rt.sub) {
		return
	}
	f := s.fault(rt.scope, r.Method)
	if f != nil && !f.rewrites() {
		s.answerFault(w, r, f)
		return
	}
	s.mu.Lock()
	var (
		body   any
		status int
		header http.Header
	)
	switch {
	case rt.kind == kindGraph && r.Method == http.MethodPost:
		s.graph(w, r)
		s.mu.Unlock()
		return
	case r.Method == http.MethodGet && rt.kind == kindOperation:
		body, status = s.operation(rt.version)
	case r.Method == http.MethodGet:
		body, status = s.get(rt, r)
	default:
		body, status, header = s.write(rt, r)
	}
	s.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	if f != nil && status == http.StatusOK {
		body = rewrite(body, r, f)
	}
	writeJSON(w, status, body)
}

// rewrite applies a listing fault to a served page.
func rewrite(body any, r *http.Request, f *Fault) any {
	data, err := json.Marshal(body)
	if err != nil {
		return body
	}
	var page map[string]any
	if json.Unmarshal(data, &page) != nil {
		return body
	}
	if items, ok := page["value"].([]any); ok && f.Duplicate {
		page["value"] = append(items, items...)
	}
	switch {
	case f.LoopLink:
		q := r.URL.Query()
		q.Del("$skiptoken")
		page["nextLink"] = "http://" + r.Host + r.URL.Path + "?" + q.Encode()
	case f.ForeignLink != "":
		page["nextLink"] = strings.TrimSuffix(f.ForeignLink, "/") + r.URL.Path + "?" + r.URL.RawQuery
	}
	return page
}

// throttled spends a token of the subscription's bucket, or answers 429 as ARM does.
func (s *Server) throttled(w http.ResponseWriter, sub string) bool {
	if s.opts.Burst <= 0 || sub == "" {
		return false
	}
	now := s.opts.Clock.Now()
	s.mu.Lock()
	b, ok := s.buckets[sub]
	if !ok {
		b = rate.NewLimiter(rate.Limit(s.opts.PerSecond), s.opts.Burst)
		s.buckets[sub] = b
	}
	allowed := b.AllowN(now, 1)
	left := b.TokensAt(now)
	s.mu.Unlock()
	w.Header().Set("x-ms-ratelimit-remaining-subscription-reads", strconv.Itoa(max(0, int(left))))
	if allowed {
		return false
	}
	wait := math.Ceil((1 - left) / s.opts.PerSecond)
	w.Header().Set("Retry-After", strconv.Itoa(int(max(1, wait))))
	writeError(w, http.StatusTooManyRequests, "SubscriptionRequestsThrottled",
		"Number of 'read' requests for subscription '"+sub+"' exceeded the limit.")
	return true
}

// fault returns a copy of the first fault matching the request, if any, and counts it down.
func (s *Server) fault(scope, method string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.faults {
		if !under(scope, c.Scope) || (c.Method != "" && c.Method != method) {
			continue
		}
		f := *c
		if c.Times > 0 {
			if c.Times--; c.Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return &f
	}
	return nil
}

// answerFault writes a fault's answer in place of the real one.
func (s *Server) answerFault(w http.ResponseWriter, r *http.Request, f *Fault) {
	switch {
	case f.Stall:
		<-r.Context().Done()
	case f.BadJSON:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"value": [{"name": "1.0.0", "properties": {`))
	case f.Redirect != "":
		http.Redirect(w, r, f.Redirect+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	case f.Raw:
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(cmp.Or(f.Status, http.StatusOK))
		_, _ = w.Write([]byte(f.Body))
	default:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		}
		writeError(w, f.Status, f.Code, f.Message)
	}
}

// under reports whether ARM id scope lies at or below parent.
func under(scope, parent string) bool {
	scope, parent = strings.ToLower(scope), strings.ToLower(strings.TrimSuffix(parent, "/"))
	return scope == parent || strings.HasPrefix(scope, parent+"/")
}

// get answers a read. It runs with s.mu held.
func (s *Server) get(rt target, r *http.Request) (any, int) {
	sub := s.subscription(rt.sub)
	if rt.kind != kindSubscriptions && sub == nil {
		return errorBody("SubscriptionNotFound", fmt.Sprintf("The subscription '%s' could not be found.", rt.sub)), http.StatusNotFound
	}
	if rt.kind == kindConsumedVersion {
		return s.consumedVersion(rt)
	}
	var gal *Gallery
	if rt.gallery != "" {
		if gal = sub.gallery(rt.rg, rt.gallery); gal == nil {
			return errorBody("ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.Compute/galleries/%s' under resource group '%s' was not found.", rt.gallery, rt.rg)), http.StatusNotFound
		}
	}
	var img *Image
	if rt.image != "" {
		if img = gal.image(rt.image); img == nil {
			return errorBody("ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.Compute/galleries/%s/images/%s' was not found.", rt.gallery, rt.image)), http.StatusNotFound
		}
	}
	switch rt.kind {
	case kindSubscriptions:
		items := make([]*armsubscriptions.Subscription, 0, len(s.estate.Subscriptions))
		for _, sb := range s.estate.Subscriptions {
			state := armsubscriptions.SubscriptionState(orDefault(sb.State, "Enabled"))
			items = append(items, &armsubscriptions.Subscription{ID: to.Ptr("/subscriptions/" + sb.ID),
				SubscriptionID: to.Ptr(sb.ID), DisplayName: to.Ptr(sb.DisplayName), State: &state})
		}
		page, next := paginate(items, r, s.opts.PageSize)
		return armsubscriptions.SubscriptionListResult{Value: page, NextLink: next}, http.StatusOK
	case kindGalleries:
		items := make([]*armcompute.Gallery, 0, len(sub.Galleries))
		for i := range sub.Galleries {
			items = append(items, galleryModel(sub.ID, &sub.Galleries[i]))
		}
		page, next := paginate(items, r, s.opts.PageSize)
		return armcompute.GalleryList{Value: page, NextLink: next}, http.StatusOK
	case kindGallery:
		return galleryModel(sub.ID, gal), http.StatusOK
	case kindImages:
		items := make([]*armcompute.GalleryImage, 0, len(gal.Images))
		for i := range gal.Images {
			items = append(items, imageModel(sub.ID, gal, &gal.Images[i]))
		}
		page, next := paginate(items, r, s.opts.PageSize)
		return armcompute.GalleryImageList{Value: page, NextLink: next}, http.StatusOK
	case kindImage:
		return imageModel(sub.ID, gal, img), http.StatusOK
	case kindVirtualMachines:
		items := make([]*armcompute.VirtualMachine, 0, len(sub.VMs))
		for _, vm := range sub.VMs {
			items = append(items, vmModel(sub.ID, vm))
		}
		page, next := paginate(items, r, s.opts.PageSize)
		return armcompute.VirtualMachineListResult{Value: page, NextLink: next}, http.StatusOK
	case kindScaleSets:
		items := make([]*armcompute.VirtualMachineScaleSet, 0, len(sub.ScaleSets))
		for _, ss := range sub.ScaleSets {
			items = append(items, scaleSetModel(sub.ID, ss))
		}
		page, next := paginate(items, r, s.opts.PageSize)
		return armcompute.VirtualMachineScaleSetListResult{Value: page, NextLink: next}, http.StatusOK
	case kindVersions:
		items := make([]*armcompute.GalleryImageVersion, 0, len(img.Versions))
		for _, v := range img.Versions {
			items = append(items, versionModel(sub.ID, gal, img, v))
		}
		page, next := paginate(items, r, s.opts.PageSize)
		return armcompute.GalleryImageVersionList{Value: page, NextLink: next}, http.StatusOK
	case kindVersion:
		for _, v := range img.Versions {
			if strings.EqualFold(v, rt.version) {
				return versionModel(sub.ID, gal, img, v), http.StatusOK
			}
		}
		return errorBody("ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.Compute/galleries/%s/images/%s/versions/%s' was not found.", gal.Name, img.Name, rt.version)), http.StatusNotFound
	case kindActivityLog:
		return s.activityLog(sub, r)
	case kindSoftDeleted:
		items := make([]*armcompute.GallerySoftDeletedResource, 0, len(img.SoftDeleted))
		for i := range img.SoftDeleted {
			items = append(items, softDeletedModel(sub.ID, gal, img, &img.SoftDeleted[i]))
		}
		page, next := paginate(items, r, s.opts.PageSize)
		return armcompute.GallerySoftDeletedResourceList{Value: page, NextLink: next}, http.StatusOK
	}
	return errorBody("InvalidResourceType", "unsupported"), http.StatusNotFound
}

func (s *Server) subscription(id string) *Subscription {
	for i := range s.estate.Subscriptions {
		if strings.EqualFold(s.estate.Subscriptions[i].ID, id) {
			return &s.estate.Subscriptions[i]
		}
	}
	return nil
}

func (sb *Subscription) gallery(rg, name string) *Gallery {
	for i := range sb.Galleries {
		g := &sb.Galleries[i]
		if strings.EqualFold(g.ResourceGroup, rg) && strings.EqualFold(g.Name, name) {
			return g
		}
	}
	return nil
}

func (g *Gallery) image(name string) *Image {
	for i := range g.Images {
		if strings.EqualFold(g.Images[i].Name, name) {
			return &g.Images[i]
		}
	}
	return nil
}

// paginate cuts items into a page; the nextLink points back at this server, as ARM's point at
// itself, with an opaque $skiptoken.
func paginate[T any](items []T, r *http.Request, size int) ([]T, *string) {
	start, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	start = min(max(start, 0), len(items))
	end := min(start+size, len(items))
	if end >= len(items) {
		return items[start:end], nil
	}
	q := r.URL.Query()
	q.Set("$skiptoken", strconv.Itoa(end))
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	next := fmt.Sprintf("%s://%s%s?%s", scheme, r.Host, r.URL.Path, q.Encode())
	return items[start:end], &next
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

type armError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func errorBody(code, message string) armError {
	var e armError
	e.Error.Code, e.Error.Message = code, message
	return e
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("x-ms-error-code", code)
	writeJSON(w, status, errorBody(code, message))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
