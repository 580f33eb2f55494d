package scanner

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// ConsumedVersion is an image version of another publisher's gallery, shared with this tenant
// (Kind shared) or public (community), that a VM or scale set of this estate is created from. Its
// publisher can soft-delete it: then scale-outs from it fail after ConsumptionEndsAt, and only the
// publisher can recover it.
type ConsumedVersion struct {
	Kind string `json:"kind"` // shared or community
	// ID is the version as the workloads name it: /SharedGalleries/{unique name}/Images/{image}/Versions/{version}
	// or /CommunityGalleries/{public name}/...
	ID       string `json:"id"`
	Gallery  string `json:"gallery"`
	Image    string `json:"image"`
	Version  string `json:"version"`
	Location string `json:"location"`
	// State is its imageState: Active, SoftDeleted, ...
	State             string    `json:"state"`
	ConsumptionEndsAt time.Time `json:"consumptionEndsAt,omitzero"`
	// Workloads are the ids of the VMs and scale sets created from it.
	Workloads []string `json:"workloads"`
}

// SoftDeleted reports whether its publisher soft-deleted it, or it is gone (StateNotFound).
func (c ConsumedVersion) SoftDeleted() bool {
	return strings.EqualFold(c.State, "SoftDeleted") || c.State == StateNotFound
}

// StateNotFound is the state of a version Azure answers 404 for: purged, or no longer shared with
// the tenant. New VMs and scale-outs from it fail now.
const StateNotFound = "NotFound"

// Kinds of consumed versions.
const (
	ConsumedShared    = "shared"
	ConsumedCommunity = "community"
)

// consumedRef reads a workload's shared or community gallery image reference: its kind, gallery,
// image and version; ok is false for one that names no version (the latest).
func consumedRef(id string) (kind, gallery, image, version string, ok bool) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) != 6 || !strings.EqualFold(parts[2], "Images") || !strings.EqualFold(parts[4], "Versions") {
		return "", "", "", "", false
	}
	switch {
	case strings.EqualFold(parts[0], "SharedGalleries"):
		kind = ConsumedShared
	case strings.EqualFold(parts[0], "CommunityGalleries"):
		kind = ConsumedCommunity
	default:
		return "", "", "", "", false
	}
	return kind, parts[1], parts[3], parts[5], true
}

// readConsumed reads, once each, the shared and community gallery image versions the workloads
// are created from, in the location of the first workload naming each, through that workload's
// subscription. A read that fails is a scope error; the rest are read.
func (s *Scanner) readConsumed(ctx context.Context, workloads []Workload) ([]ConsumedVersion, []ScopeError) {
	byID := map[string]*ConsumedVersion{}
	var order []string
	subOf := map[string]string{}
	for _, w := range workloads {
		id := w.ConsumedImageID
		kind, gallery, image, version, ok := consumedRef(id)
		if !ok || w.Location == "" {
			continue
		}
		k := strings.ToLower(id) + "@" + w.Location
		c, seen := byID[k]
		if !seen {
			c = &ConsumedVersion{Kind: kind, ID: id, Gallery: gallery, Image: image, Version: version, Location: w.Location}
			byID[k], subOf[k] = c, subscriptionOf(w.ID)
			order = append(order, k)
		}
		c.Workloads = append(c.Workloads, w.ID)
	}
	var (
		mu   sync.Mutex
		errs []ScopeError
		read []ConsumedVersion
	)
	p := newPool(s.opts.Pipeline.Wait)
	for _, k := range order {
		c, sub := byID[k], subOf[k]
		f, err := s.consumedClients(sub)
		if err != nil {
			errs = append(errs, scopeError(ctx, c.ID, err))
			continue
		}
		p.add(sub, func(ctx context.Context) {
			state, end, err := f.get(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && scopeError(ctx, c.ID, err).Reason == ReasonNotFound:
				state = StateNotFound // its workloads name a version that is no longer there: they break
			case err != nil:
				errs = append(errs, scopeError(ctx, c.ID, err))
				return
			}
			c.State, c.ConsumptionEndsAt = state, end
			read = append(read, *c)
		})
	}
	p.run(ctx, s.opts.Concurrency)
	slices.SortFunc(read, func(a, b ConsumedVersion) int { return strings.Compare(strings.ToLower(a.ID), strings.ToLower(b.ID)) })
	return read, errs
}

// consumedClients are one subscription's clients of others' galleries.
type consumedClients struct {
	shared    *armcompute.SharedGalleryImageVersionsClient
	community *armcompute.CommunityGalleryImageVersionsClient
}

func (s *Scanner) consumedClients(sub string) (*consumedClients, error) {
	c, err := s.clientsFor(sub)
	if err != nil {
		return nil, err
	}
	return c.consumed, nil
}

// get reads one version's state and consumption end.
func (c *consumedClients) get(ctx context.Context, v *ConsumedVersion) (state string, end time.Time, err error) {
	var props *armcompute.SharedGalleryImageVersionProperties
	if v.Kind == ConsumedShared {
		err = call(ctx, func(ctx context.Context) (armcompute.SharedGalleryImageVersionsClientGetResponse, error) {
			return c.shared.Get(ctx, v.Location, v.Gallery, v.Image, v.Version, nil)
		}, func(r armcompute.SharedGalleryImageVersionsClientGetResponse) error {
			props = r.Properties
			return nil
		})
	} else {
		err = call(ctx, func(ctx context.Context) (armcompute.CommunityGalleryImageVersionsClientGetResponse, error) {
			return c.community.Get(ctx, v.Location, v.Gallery, v.Image, v.Version, nil)
		}, func(r armcompute.CommunityGalleryImageVersionsClientGetResponse) error {
			if p := r.Properties; p != nil {
				props = &armcompute.SharedGalleryImageVersionProperties{ImageState: p.ImageState, ConsumptionEndTime: p.ConsumptionEndTime}
			}
			return nil
		})
	}
	if err != nil || props == nil {
		return "", time.Time{}, err
	}
	if props.ImageState != nil {
		state = string(*props.ImageState)
	}
	if props.ConsumptionEndTime != nil {
		end = props.ConsumptionEndTime.UTC()
	}
	return state, end, nil
}

// subscriptionOf is the subscription an ARM id names.
func subscriptionOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) >= 2 && strings.EqualFold(parts[0], "subscriptions") {
		return parts[1]
	}
	return ""
}
