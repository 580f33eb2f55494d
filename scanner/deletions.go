package scanner

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
)

// Deletion is an image version's deletion as the Activity Log recorded it: who asked, as what
// kind of principal, from where and when. Members the log did not give are empty.
type Deletion struct {
	Caller string `json:"caller,omitempty"`
	// PrincipalType is User, ServicePrincipal or ManagedIdentity, from the token's claims.
	PrincipalType string `json:"principalType,omitempty"`
	// PrincipalName is a user's principal name (UPN); empty for an application.
	PrincipalName string    `json:"principalName,omitempty"`
	AppID         string    `json:"appId,omitempty"`
	ObjectID      string    `json:"objectId,omitempty"`
	ClientIP      string    `json:"clientIp,omitempty"`
	At            time.Time `json:"at,omitzero"`
	CorrelationID string    `json:"correlationId,omitempty"`
}

// Who names the deleter in one word for a person: the user's principal name, else the caller
// (an application's id).
func (d *Deletion) Who() string {
	if d.PrincipalName != "" {
		return d.PrincipalName
	}
	return cmp.Or(d.Caller, d.AppID, d.ObjectID)
}

// DeleteOperation is the Activity Log's operation name for deleting an image version.
const DeleteOperation = "Microsoft.Compute/galleries/images/versions/delete"

// ActivityLogScope is the scope the Activity Log of sub is read under, as a scope error names it.
func ActivityLogScope(sub string) string {
	return "/subscriptions/" + sub + "/providers/Microsoft.Insights/eventtypes/management"
}

// Deletions reads, for each subscription of since, the image version deletions the Activity Log
// recorded from that time to until: one paged query a subscription (Compute's events in the time
// range, as the log's $filter allows), inside its read budget. Deletions are keyed by the
// version's lower-cased id, the latest first; a subscription that could not be read has an
// error instead, and the others are read all the same.
func (s *Scanner) Deletions(ctx context.Context, since map[string]time.Time, until time.Time) (map[string][]Deletion, map[string]ScopeError) {
	found, failed := map[string][]Deletion{}, map[string]ScopeError{}
	var mu sync.Mutex
	p := newPool(s.opts.Pipeline.Wait)
	for sub, from := range since {
		client, err := armmonitor.NewActivityLogsClient(sub, s.opts.Credential, s.opts.Pipeline.ClientOptions())
		if err != nil {
			failed[sub] = scopeError(ctx, ActivityLogScope(sub), fmt.Errorf("creating the Activity Log client: %w", err))
			continue
		}
		filter := fmt.Sprintf("eventTimestamp ge '%s' and eventTimestamp le '%s' and resourceProvider eq 'Microsoft.Compute'",
			from.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
		// Only what a deletion needs: a page of Compute's events is mostly claims and properties.
		opts := &armmonitor.ActivityLogsClientListOptions{Select: to.Ptr("caller,claims,correlationId,eventTimestamp,httpRequest,operationName,resourceId,status")}
		p.add(sub, func(ctx context.Context) {
			got := map[string][]Deletion{}
			err := eachPage(ctx, s.opts.MaxPages, client.NewListPager(filter, opts),
				func(p armmonitor.ActivityLogsClientListResponse) ([]*armmonitor.EventData, *string) {
					return p.Value, p.NextLink
				},
				func(events []*armmonitor.EventData) {
					for _, e := range events {
						if id, d, ok := deletionOf(e); ok {
							got[id] = append(got[id], d)
						}
					}
				})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[sub] = scopeError(ctx, ActivityLogScope(sub), err)
				return
			}
			for id, ds := range got {
				found[id] = append(found[id], ds...)
			}
		})
	}
	p.run(ctx, s.opts.Concurrency)
	return found, failed
}

// deletionOf reads a version's deletion from an Activity Log event: a delete of an image version
// that did not fail (ARM logs Started, Accepted and Succeeded for one request, the same caller on
// each). Anything else, or an event without a resource id, is not one.
func deletionOf(e *armmonitor.EventData) (string, Deletion, bool) {
	if e == nil || e.ResourceID == nil || e.OperationName == nil || !strings.EqualFold(deref(e.OperationName.Value), DeleteOperation) {
		return "", Deletion{}, false
	}
	if e.Status != nil && strings.EqualFold(deref(e.Status.Value), "Failed") {
		return "", Deletion{}, false
	}
	claim := func(names ...string) string {
		for _, n := range names {
			if v := e.Claims[n]; v != nil && *v != "" {
				return *v
			}
		}
		return ""
	}
	d := Deletion{Caller: deref(e.Caller), CorrelationID: deref(e.CorrelationID),
		PrincipalName: claim("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "upn"),
		AppID:         claim("appid", "azp"),
		ObjectID:      claim("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")}
	if e.EventTimestamp != nil {
		d.At = e.EventTimestamp.UTC()
	}
	if e.HTTPRequest != nil {
		d.ClientIP = deref(e.HTTPRequest.ClientIPAddress)
	}
	switch {
	case claim("xms_mirid") != "":
		d.PrincipalType = "ManagedIdentity"
	case d.PrincipalName != "" || strings.EqualFold(claim("idtyp"), "user"):
		d.PrincipalType = "User"
	case d.AppID != "" || strings.EqualFold(claim("idtyp"), "app"):
		d.PrincipalType = "ServicePrincipal"
	}
	return strings.ToLower(*e.ResourceID), d, true
}
