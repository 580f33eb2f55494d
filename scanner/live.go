package scanner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.uber.org/zap"
)

// LiveVersions reports, by lower-cased ARM id, whether each image version exists as a live
// version: true once recovered, false when ARM answers 404. An id that could not be checked (a
// malformed id, throttling, a 5xx) is left out, so that nobody concludes anything from it.
func (s *Scanner) LiveVersions(ctx context.Context, ids []string) map[string]bool {
	out := make(map[string]bool, len(ids))
	var mu sync.Mutex
	p := newPool(s.opts.Pipeline.Wait) // asked at once, within the scan's concurrency and each subscription's budget
	for _, id := range ids {
		ref, err := ParseVersionID(id)
		if err != nil {
			s.opts.Logger.Warn("not an image version id", zap.String("id", id))
			continue
		}
		c, err := s.clientsFor(ref.SubscriptionID)
		if err != nil {
			continue
		}
		p.add(ref.SubscriptionID, func(ctx context.Context) {
			live, err := exists(ctx, c, ref)
			if err != nil {
				s.opts.Logger.Warn("checking whether a version was recovered", zap.String("id", id), zap.Error(err))
				return
			}
			mu.Lock()
			out[strings.ToLower(id)] = live
			mu.Unlock()
		})
	}
	p.run(ctx, s.opts.Concurrency)
	return out
}

// exists is the one "does this live version exist" check: true when ARM returns it, false on 404,
// an error otherwise (nothing can be concluded).
func exists(ctx context.Context, c *clients, ref VersionRef) (bool, error) {
	_, err := c.versions.Get(ctx, ref.ResourceGroup, ref.Gallery, ref.Image, ref.Version, nil)
	var re *azcore.ResponseError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("reading %s: %w", ref.ID(), err)
}
