package notify

import (
	"net/url"
	"strings"

	"github.com/purgewatch/purgewatch/scanner"
)

// statusPage is the status page at base (--web.external-url), filtered to v's gallery when v is
// given: where an alert or an e-mail sends people. "" when base is unknown: no link beats a
// link to localhost.
func statusPage(base string, v *scanner.Version) string {
	if base == "" {
		return ""
	}
	page := strings.TrimSuffix(base, "/") + "/"
	if v == nil {
		return page
	}
	return page + "?" + url.Values{"subscription": {v.SubscriptionID}, "gallery": {v.Gallery}}.Encode()
}
