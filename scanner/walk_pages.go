package scanner

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// DefaultMaxPages bounds one listing. ARM pages hold 100 items or more, so this is 100,000 items or more
// in one image definition, gallery or subscription: far past any real estate, and short of a
// service that pages for ever.
const DefaultMaxPages = 1000

// eachPage reads every page of one ARM listing and hands each page's items to use. It refuses
// what a broken or hostile service could send, as a bad response for the scope: a page with no
// value array (an empty body, null, or no "value": never an empty list), a nextLink seen before
// in the same listing, or more than maxPages pages. (A nextLink to another host is refused by the
// pipeline before any token is attached.) Pages read before the error have been used.
func eachPage[P, T any](ctx context.Context, maxPages int, pager *runtime.Pager[P], split func(P) ([]T, *string), use func([]T)) error {
	seen := map[string]bool{}
	for pages := 0; pager.More(); pages++ {
		if pages == maxPages {
			return badResponseError(fmt.Sprintf("the listing ran past %d pages", maxPages))
		}
		var next *string
		err := call(ctx, pager.NextPage, func(page P) error {
			var items []T
			items, next = split(page)
			if items == nil {
				return badResponseError(`a page without a "value" array (an empty body, null, or another shape)`)
			}
			use(items)
			return nil
		})
		if err != nil {
			return err
		}
		if next != nil && *next != "" {
			if seen[*next] {
				return badResponseError("the listing's nextLink points at a page already read")
			}
			seen[*next] = true
		}
	}
	return nil
}
