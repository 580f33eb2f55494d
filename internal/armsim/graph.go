package armsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GraphPath is Resource Graph's query endpoint.
const GraphPath = "/providers/Microsoft.ResourceGraph/resources"

// graphRequest is the body of a Resource Graph query (api-version 2024-04-01).
type graphRequest struct {
	Query            string   `json:"query"`
	Subscriptions    []string `json:"subscriptions"`
	ManagementGroups []string `json:"managementGroups"`
	Options          struct {
		Top       int    `json:"$top"`
		SkipToken string `json:"$skipToken"`
	} `json:"options"`
}

// graph answers a Resource Graph query. It runs no KQL: it answers the queries purgewatch sends,
// told apart by the resource type they select, with the rows those queries project, a page of
// $top (at most 1,000) at a time, continued by $skipToken. Each query spends a unit of the
// caller's quota (Options.GraphQuota per Options.GraphWindow), reported in
// x-ms-user-quota-remaining and x-ms-user-quota-resets-after; an exhausted quota answers 429.
// Called with mu held.
func (s *Server) graph(w http.ResponseWriter, r *http.Request) {
	if s.graphThrottled(w) {
		return
	}
	var q graphRequest
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || q.Query == "" {
		writeError(w, http.StatusBadRequest, "BadRequest", "the body must be a query request")
		return
	}
	var rows []map[string]any
	query := strings.ToLower(q.Query)
	switch {
	case strings.Contains(query, "'microsoft.compute/galleries/images'"):
		rows = s.graphImages(s.graphScope(q))
	case strings.Contains(query, "'microsoft.compute/galleries'"):
		rows = s.graphGalleries(s.graphScope(q))
	case strings.Contains(query, "resourcecontainers") && strings.Contains(query, "'microsoft.resources/subscriptions'"):
		for _, sub := range s.graphScope(q) {
			rows = append(rows, map[string]any{"subscriptionId": sub.ID})
		}
	default:
		writeError(w, http.StatusBadRequest, "InvalidQuery", "armsim answers only purgewatch's queries")
		return
	}
	top := q.Options.Top
	if top <= 0 || top > 1000 {
		top = min(max(top, 100), 1000)
	}
	from := 0
	if t := q.Options.SkipToken; t != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(t, "offset:"))
		if err != nil || n < 0 || n > len(rows) {
			writeError(w, http.StatusBadRequest, "InvalidSkipToken", "the $skipToken is not one this service issued")
			return
		}
		from = n
	}
	to := min(from+top, len(rows))
	body := map[string]any{"totalRecords": len(rows), "count": to - from, "resultTruncated": "false", "data": rows[from:to]}
	if to < len(rows) {
		body["$skipToken"] = "offset:" + strconv.Itoa(to)
	}
	writeJSON(w, http.StatusOK, body)
}

// graphThrottled spends a unit of the quota, or answers 429 when none is left. Called with mu
// held.
func (s *Server) graphThrottled(w http.ResponseWriter) bool {
	if s.opts.GraphQuota <= 0 {
		return false
	}
	window := s.opts.GraphWindow
	if window <= 0 {
		window = 5 * time.Second
	}
	now := s.opts.Clock.Now()
	if now.Sub(s.graphWindow) >= window {
		s.graphWindow, s.graphSpent = now, 0
	}
	resets := s.graphWindow.Add(window).Sub(now)
	w.Header().Set("x-ms-user-quota-resets-after", hhmmss(resets))
	if s.graphSpent >= s.opts.GraphQuota {
		w.Header().Set("x-ms-user-quota-remaining", "0")
		w.Header().Set("Retry-After", strconv.Itoa(int(max(1, (resets+time.Second-1)/time.Second))))
		writeError(w, http.StatusTooManyRequests, "RateLimiting", "Please provide below info when asking for support: the user's quota is exhausted.")
		return true
	}
	s.graphSpent++
	w.Header().Set("x-ms-user-quota-remaining", strconv.Itoa(s.opts.GraphQuota-s.graphSpent))
	return false
}

func hhmmss(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// graphScope is the subscriptions a query covers: those it names, those under the management
// groups it names, or all of them.
func (s *Server) graphScope(q graphRequest) []*Subscription {
	var out []*Subscription
	for i := range s.estate.Subscriptions {
		sub := &s.estate.Subscriptions[i]
		switch {
		case len(q.Subscriptions) > 0 && !slices.ContainsFunc(q.Subscriptions, func(id string) bool { return strings.EqualFold(id, sub.ID) }):
			continue
		case len(q.ManagementGroups) > 0 && !slices.ContainsFunc(q.ManagementGroups, func(mg string) bool { return strings.EqualFold(mg, sub.ManagementGroup) }):
			continue
		}
		out = append(out, sub)
	}
	return out
}

// graphGalleries are the rows of scanner's galleries query: the gallery's ARM body, with its
// subscription and resource group.
func (s *Server) graphGalleries(subs []*Subscription) []map[string]any {
	var rows []map[string]any
	for _, sub := range subs {
		for gi := range sub.Galleries {
			g := &sub.Galleries[gi]
			row := asRow(galleryModel(sub.ID, g))
			row["subscriptionId"], row["resourceGroup"] = sub.ID, g.ResourceGroup
			rows = append(rows, row)
		}
	}
	return rows
}

// graphImages are the rows of scanner's image definitions query: the definition, and the names
// of its live versions summarised into one row.
func (s *Server) graphImages(subs []*Subscription) []map[string]any {
	var rows []map[string]any
	for _, sub := range subs {
		for gi := range sub.Galleries {
			g := &sub.Galleries[gi]
			for ii := range g.Images {
				img := &g.Images[ii]
				m := imageModel(sub.ID, g, img)
				details := []map[string]any{}
				for _, v := range img.Versions {
					vm := versionModel(sub.ID, g, img, v)
					details = append(details, map[string]any{"id": *vm.ID, "location": *vm.Location,
						"provisioningState": string(*vm.Properties.ProvisioningState), "storageProfile": vm.Properties.StorageProfile,
						"regions": len(vm.Properties.PublishingProfile.TargetRegions)})
				}
				row := map[string]any{"id": *m.ID, "name": *m.Name, "type": *m.Type, "tags": m.Tags,
					"subscriptionId": sub.ID, "resourceGroup": g.ResourceGroup, "liveVersions": slices.Clone(img.Versions),
					"liveDetails": details}
				if img.Versions == nil {
					row["liveVersions"] = []string{}
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// asRow is a model as Resource Graph returns it: its JSON body as an object.
func asRow(model any) map[string]any {
	data, _ := json.Marshal(model)
	var row map[string]any
	_ = json.Unmarshal(data, &row)
	return row
}
