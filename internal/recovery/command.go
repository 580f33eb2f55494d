// Package recovery writes the one request that takes a soft-deleted version out of the recycle
// bin, as a command people can paste: a leaf, so that what prints it (messages, the page) needs
// no ARM client.
package recovery

import (
	"regexp"
	"strings"
)

// RestoreAPIVersion is the api-version whose PATCH carries properties.restore.
const RestoreAPIVersion = "2026-03-03"

// RestoreBody is the PATCH's body, the REST specification's example's: what `purgewatch recover`
// sends and every printed command shows, byte for byte (internal/restore's test holds them
// together).
const RestoreBody = `{"properties":{"restore":true,"storageProfile":{}}}`

// wellFormed is a gallery image version id as ARM writes it. Anything else (a name a hostile or
// broken response made up, with quotes, spaces or `$(...)` in it) is never put in a command.
var wellFormed = regexp.MustCompile(`^/subscriptions/[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}` +
	`/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.Compute/galleries/[\w.]{1,80}/images/[-\w.]{1,80}/versions/[0-9]{1,10}\.[0-9]{1,10}\.[0-9]{1,10}$`)

// WellFormed reports whether id is a gallery image version id fit to be put in a command.
func WellFormed(id string) bool { return wellFormed.MatchString(id) }

// RecoverCommand is the `az rest` request that recovers the version, its URL quoted for a POSIX
// shell; ok is false, and the command empty, when id is not well formed. Messages, alerts and the
// status page all print this one.
func RecoverCommand(endpoint, id string) (cmd string, ok bool) {
	if !WellFormed(id) {
		return "", false
	}
	url := strings.TrimSuffix(endpoint, "/") + id + "?api-version=" + RestoreAPIVersion
	return "az rest --method patch --url " + ShellQuote(url) + " --body " + ShellQuote(RestoreBody), true
}

// ShellQuote quotes s for a POSIX shell: single quotes, each inner one closed, escaped, reopened.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
