// Package restore acts on a soft-deleted version before its purge: it recovers it, or purges it
// for good when a team wants the storage back. Every request goes through the same ARM pipeline
// as the scans, and both commands check the recycle bin first.
package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/purgewatch/purgewatch/internal/arm"
	"github.com/purgewatch/purgewatch/internal/clock"
	"github.com/purgewatch/purgewatch/internal/recovery"
	"github.com/purgewatch/purgewatch/scanner"
)

// Method is how a restore was asked for: the REST specification's example PATCHes the version;
// Microsoft's documentation PUTs it with only its home location. Which one the service needs is
// unverified, so purgewatch tries the first and falls back to the second.
type Method string

const (
	MethodPatch Method = "PATCH"
	MethodPut   Method = "PUT"
)

// PurgeAPIVersion is the api-version of the documented recycle-bin DELETE, which no merged
// specification and no SDK method has.
const PurgeAPIVersion = "2024-03-03"

// Restorer recovers and purges versions.
type Restorer struct {
	Pipeline   *arm.Pipeline
	Credential azcore.TokenCredential
	Scanner    *scanner.Scanner
	Clock      clock.Clock
	// Progress receives a line now and then while an operation runs (stderr).
	Progress io.Writer
	// PollEvery is how often a long-running operation is asked about; 0 means 5 s.
	PollEvery time.Duration
	// Endpoint is the ARM endpoint, for the requests --dry-run prints.
	Endpoint string
}

// ErrNotRecoverable says why a version cannot be recovered or purged: it is not in the recycle bin.
type ErrNotRecoverable struct {
	ID   string
	Live bool
}

func (e *ErrNotRecoverable) Error() string {
	if e.Live {
		return fmt.Sprintf("%s is not in the recycle bin: the live version exists, so there is nothing to recover", e.ID)
	}
	return fmt.Sprintf("%s is neither in the recycle bin nor live: it has been purged (or never existed), and nothing can bring it back", e.ID)
}

// PermissionError is a 403, with the action the identity lacks.
type PermissionError struct {
	Action string
	Err    error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("the identity is not allowed to %s: assign a role with that action (deploy/azure/purgewatch-recovery.json has it): %v", e.Action, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

var authAction = regexp.MustCompile(`perform action '([^']+)'`)

// permission turns a 403 into a PermissionError naming the action, from ARM's message or the
// action the request needed.
func permission(err error, needed string) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || (re.StatusCode != http.StatusForbidden && re.StatusCode != http.StatusUnauthorized) {
		return err
	}
	action := needed
	if re.RawResponse != nil {
		body, _ := io.ReadAll(re.RawResponse.Body)
		if m := authAction.FindSubmatch(body); m != nil {
			action = string(m[1])
		}
	}
	return &PermissionError{Action: action, Err: err}
}

// Check finds the version and makes sure it is in the recycle bin.
func (r *Restorer) Check(ctx context.Context, ref scanner.VersionRef) (*scanner.Found, error) {
	f, err := r.Scanner.Find(ctx, ref)
	if err != nil {
		return nil, permission(err, "Microsoft.Compute/galleries/images/versions/read")
	}
	if f.InRecycleBin == nil {
		return f, &ErrNotRecoverable{ID: ref.ID(), Live: f.Live}
	}
	return f, nil
}

// Request is an HTTP request as --dry-run shows it.
type Request struct {
	Method Method
	URL    string
	Body   string
}

// Plan is the restore requests, in the order they are tried.
func (r *Restorer) Plan(ref scanner.VersionRef, location string) []Request {
	url := strings.TrimSuffix(r.Endpoint, "/") + ref.ID() + "?api-version=" + recovery.RestoreAPIVersion
	patch, _ := json.Marshal(patchBody())
	put, _ := json.Marshal(putBody(location))
	return []Request{{MethodPatch, url, string(patch)}, {MethodPut, url, string(put)}}
}

func patchBody() armcompute.GalleryImageVersionUpdate {
	return armcompute.GalleryImageVersionUpdate{Properties: &armcompute.GalleryImageVersionProperties{
		Restore: to.Ptr(true), StorageProfile: &armcompute.GalleryImageVersionStorageProfile{}}}
}

func putBody(location string) armcompute.GalleryImageVersion {
	return armcompute.GalleryImageVersion{Location: to.Ptr(location), Properties: &armcompute.GalleryImageVersionProperties{
		Restore: to.Ptr(true), StorageProfile: &armcompute.GalleryImageVersionStorageProfile{}}}
}

// Result is what a recovery did.
type Result struct {
	Method Method
	// FellBack is set when the PATCH was refused and the PUT was used.
	FellBack bool
	// Done is false when --wait ran out with the operation still running.
	Done bool
}

// Recover restores the version: PATCH first; on a 4xx that is not about authorization, PUT with
// the home location. It follows the long-running operation until it ends or wait runs out.
func (r *Restorer) Recover(ctx context.Context, ref scanner.VersionRef, location string, wait time.Duration) (Result, error) {
	client, err := armcompute.NewGalleryImageVersionsClient(ref.SubscriptionID, r.Credential, r.Pipeline.ClientOptions())
	if err != nil {
		return Result{}, err
	}
	const needed = "Microsoft.Compute/galleries/images/versions/write"
	res := Result{Method: MethodPatch}
	patch, err := client.BeginUpdate(ctx, ref.ResourceGroup, ref.Gallery, ref.Image, ref.Version, patchBody(), nil)
	if err == nil {
		res.Done, err = follow(ctx, r, patch, wait)
		return res, permission(err, "Microsoft.Compute/locations/capsOperations/read")
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode < 400 || re.StatusCode >= 500 || re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden {
		return res, permission(err, needed)
	}
	r.progress("the PATCH was refused (HTTP %d %s); trying the documented PUT with location %s", re.StatusCode, re.ErrorCode, location)
	res.Method, res.FellBack = MethodPut, true
	put, err := client.BeginCreateOrUpdate(ctx, ref.ResourceGroup, ref.Gallery, ref.Image, ref.Version, putBody(location), nil)
	if err != nil {
		return res, permission(err, needed)
	}
	res.Done, err = follow(ctx, r, put, wait)
	return res, permission(err, "Microsoft.Compute/locations/capsOperations/read")
}

// follow polls a long-running operation, saying how it goes, until it ends or wait runs out.
func follow[T any](ctx context.Context, r *Restorer, p *runtime.Poller[T], wait time.Duration) (bool, error) {
	start := r.clock().Now()
	every := r.PollEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	for polls := 0; !p.Done(); polls++ {
		if wait > 0 && r.clock().Now().Sub(start) >= wait {
			return false, nil
		}
		if polls > 0 { // ask at once first: a quick operation is done by then
			if err := r.clock().Sleep(ctx, every); err != nil {
				return false, accepted(err)
			}
		}
		resp, err := p.Poll(ctx)
		if err != nil {
			return false, accepted(err)
		}
		r.progress("operation %s after %s", operationStatus(resp), r.clock().Now().Sub(start).Round(time.Second))
	}
	_, err := p.Result(ctx)
	return err == nil, err
}

// accepted is a poll's error once the operation was accepted: the command's deadline (--wait)
// running out is no failure of the operation, which goes on in Azure; anything else is.
func accepted(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

func operationStatus(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return "running"
	}
	var body struct{ Status string }
	if data, err := io.ReadAll(resp.Body); err == nil && json.Unmarshal(data, &body) == nil && body.Status != "" {
		return strings.ToLower(body.Status)
	}
	return "running"
}

// Purge hard-deletes a version already in the recycle bin: the documented DELETE on the
// recycle-bin path, sent through the ARM pipeline because the SDK has no method for it.
func (r *Restorer) Purge(ctx context.Context, ref scanner.VersionRef) error {
	client, err := azarm.NewClient("purgewatch", "v0.1.0", r.Credential, r.Pipeline.ClientOptions())
	if err != nil {
		return err
	}
	req, err := runtime.NewRequest(ctx, http.MethodDelete, runtime.JoinPaths(client.Endpoint(), PurgePath(ref)))
	if err != nil {
		return err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", PurgeAPIVersion)
	req.Raw().URL.RawQuery = q.Encode()
	resp, err := client.Pipeline().Do(req)
	if err != nil {
		return err
	}
	const needed = "Microsoft.Compute/galleries/images/versions/delete"
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return nil
	case http.StatusAccepted:
		p, err := runtime.NewPoller[json.RawMessage](resp, client.Pipeline(), nil)
		if err != nil {
			return err
		}
		done, err := follow(ctx, r, p, 0)
		if err == nil && !done {
			err = fmt.Errorf("the purge was accepted and is still running in Azure: %w", context.DeadlineExceeded)
		}
		return permission(err, needed)
	}
	return permission(runtime.NewResponseError(resp), needed)
}

// PurgePath is the recycle-bin entry's path.
func PurgePath(ref scanner.VersionRef) string {
	return ref.GalleryID() + "/softDeletedArtifactTypes/Images/artifacts/" + ref.Image + "/versions/" + ref.Version
}

func (r *Restorer) clock() clock.Clock {
	if r.Clock == nil {
		return clock.Real{}
	}
	return r.Clock
}

func (r *Restorer) progress(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, "purgewatch: "+format+"\n", args...)
	}
}
