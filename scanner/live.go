package scanner

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"go.uber.org/zap"
)

// LiveVersions reports, by lower-cased ARM id, whether each image version exists as a live
// version: true once recovered, false when ARM answers 404. An id that could not be checked (a
// malformed id, throttling, a 5xx) is left out, so that nobody concludes anything from it.
func (s *Scanner) LiveVersions(ctx context.Context, ids []string) map[string]bool {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		rid, err := azarm.ParseResourceID(id)
		if err != nil || rid.Parent == nil || rid.Parent.Parent == nil {
			s.opts.Logger.Warn("not an image version id", zap.String("id", id))
			continue
		}
		c, err := s.clientsFor(strings.ToLower(rid.SubscriptionID))
		if err != nil {
			continue
		}
		_, err = c.versions.Get(ctx, rid.ResourceGroupName, rid.Parent.Parent.Name, rid.Parent.Name, rid.Name, nil)
		var re *azcore.ResponseError
		switch {
		case err == nil:
			out[strings.ToLower(id)] = true
		case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
			out[strings.ToLower(id)] = false
		default:
			s.opts.Logger.Warn("checking whether a version was recovered", zap.String("id", id), zap.Error(err))
		}
	}
	return out
}
