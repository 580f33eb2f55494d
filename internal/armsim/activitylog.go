package armsim

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
)

// Caller is who deleted a version, as the Activity Log records the principal: a person signs in
// with a user principal name, a pipeline as a service principal or a managed identity (an app id).
type Caller struct {
	// Name is the caller field: a user's principal name, or a service principal's app id.
	Name          string `yaml:"name"`
	PrincipalType string `yaml:"principalType"` // User (default), ServicePrincipal, ManagedIdentity
	AppID         string `yaml:"appId"`
	ObjectID      string `yaml:"objectId"`
	ClientIP      string `yaml:"clientIp"`
}

// DeleteOperation is the Activity Log's operation name for deleting an image version.
const DeleteOperation = "Microsoft.Compute/galleries/images/versions/delete"

// ActivityLogPath is the Activity Log listing of a subscription's management events.
const activityLogSuffix = "/providers/microsoft.insights/eventtypes/management/values"

// filterTerm is one term of the Activity Log's $filter, which allows only a few fixed patterns:
// eventTimestamp ge/le, and one of resourceGroupName, resourceUri, resourceProvider or
// correlationId eq.
var filterTerm = regexp.MustCompile(`^\s*(\w+)\s+(ge|le|eq)\s+'([^']*)'\s*$`)

// activityLog answers the Activity Log listing: the delete events of the subscription's
// soft-deleted versions that have a caller, newest first as the service lists them, within the
// filter's time range. An event is listed once the log has it: ActivityLogDelay after the
// deletion. It runs with s.mu held.
func (s *Server) activityLog(sub *Subscription, r *http.Request) (any, int) {
	var since, until time.Time
	provider := ""
	for term := range strings.SplitSeq(r.URL.Query().Get("$filter"), " and ") {
		m := filterTerm.FindStringSubmatch(term)
		if m == nil {
			return errorBody("BadRequest", fmt.Sprintf("The $filter term %q is not one the Activity Log allows.", term)), http.StatusBadRequest
		}
		switch field, op, value := strings.ToLower(m[1]), m[2], m[3]; {
		case field == "eventtimestamp" && (op == "ge" || op == "le"):
			t, err := time.Parse(time.RFC3339Nano, value)
			if err != nil {
				return errorBody("BadRequest", fmt.Sprintf("The time %q in $filter is not ISO 8601.", value)), http.StatusBadRequest
			}
			if op == "ge" {
				since = t
			} else {
				until = t
			}
		case field == "resourceprovider" && op == "eq":
			provider = value
		default:
			return errorBody("BadRequest", fmt.Sprintf("The $filter field %q is not supported here.", m[1])), http.StatusBadRequest
		}
	}
	if since.IsZero() {
		return errorBody("BadRequest", "The $filter query parameter must name a start time (eventTimestamp ge)."), http.StatusBadRequest
	}
	now := s.opts.Clock.Now()
	if until.IsZero() {
		until = now
	}
	if now.Sub(since) > 90*24*time.Hour+time.Hour {
		return errorBody("BadRequest", "The start time of the query cannot be more than 90 days ago."), http.StatusBadRequest
	}
	events := []*armmonitor.EventData{}
	if provider == "" || strings.EqualFold(provider, "Microsoft.Compute") {
		for gi := range sub.Galleries {
			g := &sub.Galleries[gi]
			for ii := range g.Images {
				img := &g.Images[ii]
				for _, sd := range img.SoftDeleted {
					if sd.DeletedBy == nil || now.Before(sd.DeletedAt.Add(s.opts.ActivityLogDelay)) {
						continue
					}
					for _, e := range deleteEvents(sub.ID, g, img, sd) {
						if at := *e.EventTimestamp; !at.Before(since) && !at.After(until) {
							events = append(events, e)
						}
					}
				}
			}
		}
	}
	slices.SortStableFunc(events, func(a, b *armmonitor.EventData) int { return b.EventTimestamp.Compare(*a.EventTimestamp) })
	page, next := paginate(events, r, s.opts.PageSize)
	body := armmonitor.EventDataCollection{Value: page, NextLink: next}
	if sel := r.URL.Query().Get("$select"); sel != "" {
		return selected(body, strings.Split(sel, ",")), http.StatusOK
	}
	return body, http.StatusOK
}

// selected keeps only the members $select names of each event, as the service does.
func selected(body armmonitor.EventDataCollection, fields []string) any {
	data, _ := json.Marshal(body)
	var page struct {
		Value    []map[string]json.RawMessage `json:"value"`
		NextLink *string                      `json:"nextLink,omitempty"`
	}
	_ = json.Unmarshal(data, &page)
	for _, e := range page.Value {
		for k := range e {
			if !slices.ContainsFunc(fields, func(f string) bool { return strings.EqualFold(strings.TrimSpace(f), k) }) {
				delete(e, k)
			}
		}
	}
	if page.Value == nil {
		page.Value = []map[string]json.RawMessage{}
	}
	return page
}

// deleteEvents are the two events ARM logs for one delete: Started when the request is accepted,
// Succeeded when it is done, sharing a correlation id.
func deleteEvents(sub string, g *Gallery, img *Image, sd SoftDeleted) []*armmonitor.EventData {
	id := galleryID(sub, g) + "/images/" + img.Name + "/versions/" + sd.Version
	c := sd.DeletedBy
	sum := sha256.Sum256([]byte(id + sd.DeletedAt.String()))
	correlation := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	claims := map[string]*string{"appid": to.Ptr(c.AppID), "http://schemas.microsoft.com/identity/claims/objectidentifier": to.Ptr(c.ObjectID)}
	switch c.PrincipalType {
	case "", "User":
		claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = to.Ptr(c.Name)
		claims["name"] = to.Ptr(c.Name)
		claims["idtyp"] = to.Ptr("user")
	case "ManagedIdentity":
		claims["idtyp"] = to.Ptr("app")
		claims["xms_mirid"] = to.Ptr("/subscriptions/" + sub + "/resourcegroups/" + g.ResourceGroup + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + c.Name)
	default:
		claims["idtyp"] = to.Ptr("app")
	}
	var out []*armmonitor.EventData
	for i, status := range []string{"Started", "Succeeded"} {
		at := sd.DeletedAt.Add(time.Duration(i-1) * time.Second).UTC()
		dataID := fmt.Sprintf("%x-%d", sum[16:24], i)
		out = append(out, &armmonitor.EventData{
			Authorization: &armmonitor.SenderAuthorization{Action: to.Ptr(DeleteOperation), Scope: to.Ptr(id)},
			Caller:        to.Ptr(c.Name), Claims: claims, CorrelationID: to.Ptr(correlation),
			Category:    &armmonitor.LocalizableString{Value: to.Ptr("Administrative"), LocalizedValue: to.Ptr("Administrative")},
			EventDataID: to.Ptr(dataID), EventTimestamp: to.Ptr(at), SubmissionTimestamp: to.Ptr(at.Add(5 * time.Minute)),
			EventName:            &armmonitor.LocalizableString{Value: to.Ptr([]string{"BeginRequest", "EndRequest"}[i])},
			HTTPRequest:          &armmonitor.HTTPRequestInfo{ClientIPAddress: to.Ptr(c.ClientIP), Method: to.Ptr("DELETE")},
			ID:                   to.Ptr(id + "/events/" + dataID + "/ticks/" + fmt.Sprint(at.UnixNano()/100)),
			Level:                to.Ptr(armmonitor.EventLevelInformational),
			OperationName:        &armmonitor.LocalizableString{Value: to.Ptr(DeleteOperation), LocalizedValue: to.Ptr("Delete Gallery Image Version")},
			ResourceGroupName:    to.Ptr(g.ResourceGroup),
			ResourceID:           to.Ptr(id),
			ResourceProviderName: &armmonitor.LocalizableString{Value: to.Ptr("Microsoft.Compute"), LocalizedValue: to.Ptr("Microsoft.Compute")},
			ResourceType:         &armmonitor.LocalizableString{Value: to.Ptr("Microsoft.Compute/galleries/images/versions")},
			Status:               &armmonitor.LocalizableString{Value: to.Ptr(status), LocalizedValue: to.Ptr(status)},
			SubscriptionID:       to.Ptr(sub),
		})
	}
	return out
}
