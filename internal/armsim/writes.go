package armsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
)

// Write is a request that changed the estate, as the simulator received it.
type Write struct {
	Method string
	Path   string
	Body   string
}

// Writes returns the restores and recycle-bin deletes received so far.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Write(nil), s.writes...)
}

// write handles PATCH and PUT on an image version (a restore) and DELETE on a recycle-bin entry
// (a purge). It runs with s.mu held.
func (s *Server) write(rt target, r *http.Request) (any, int, http.Header) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.writes = append(s.writes, Write{Method: r.Method, Path: r.URL.Path, Body: string(body)})
	sub := s.subscription(rt.sub)
	if sub == nil {
		return errorBody("SubscriptionNotFound", "no such subscription"), http.StatusNotFound, nil
	}
	gal := sub.gallery(rt.rg, rt.gallery)
	if gal == nil {
		return errorBody("ResourceNotFound", "no such gallery"), http.StatusNotFound, nil
	}
	img := gal.image(rt.image)
	if img == nil {
		return errorBody("ResourceNotFound", "no such image definition"), http.StatusNotFound, nil
	}
	i := slices.IndexFunc(img.SoftDeleted, func(sd SoftDeleted) bool { return strings.EqualFold(sd.Version, rt.version) })

	switch {
	case rt.kind == kindVersion && r.Method == http.MethodDelete:
		// Deleting a live version: into the recycle bin when the gallery's soft delete is on.
		live := slices.IndexFunc(img.Versions, func(v string) bool { return strings.EqualFold(v, rt.version) })
		if live < 0 {
			return errorBody("ResourceNotFound", fmt.Sprintf("Version %s of %s does not exist.", rt.version, img.Name)), http.StatusNotFound, nil
		}
		img.Versions = slices.Delete(img.Versions, live, live+1)
		if gal.SoftDelete != nil && gal.SoftDelete.Enabled {
			img.SoftDeleted = append(img.SoftDeleted, SoftDeleted{Version: rt.version, DeletedAt: s.opts.Clock.Now(), DeletedBy: s.opts.Caller})
		}
		return nil, http.StatusOK, nil

	case rt.kind == kindSoftDeletedVersion && r.Method == http.MethodDelete:
		if i < 0 {
			return errorBody("ResourceNotFound", fmt.Sprintf("Version %s of %s is not in the recycle bin.", rt.version, img.Name)), http.StatusNotFound, nil
		}
		img.SoftDeleted = slices.Delete(img.SoftDeleted, i, i+1)
		return nil, http.StatusOK, nil

	case rt.kind == kindVersion && (r.Method == http.MethodPatch || r.Method == http.MethodPut):
		accepted := s.opts.RestoreMethods
		if len(accepted) == 0 {
			accepted = []string{http.MethodPatch, http.MethodPut}
		}
		if !slices.Contains(accepted, r.Method) {
			return errorBody("InvalidParameter", "The restore of a soft-deleted gallery image version is not supported with "+r.Method+"."), http.StatusBadRequest, nil
		}
		var req struct {
			Location   string `json:"location"`
			Properties struct {
				Restore bool `json:"restore"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(body, &req); err != nil || !req.Properties.Restore {
			return errorBody("InvalidParameter", "Only a restore (properties.restore: true) is simulated."), http.StatusBadRequest, nil
		}
		if r.Method == http.MethodPut && req.Location == "" {
			return errorBody("LocationRequired", "The location property is required for this definition."), http.StatusBadRequest, nil
		}
		if i < 0 {
			return errorBody("ResourceNotFound", fmt.Sprintf("Version %s of %s is not in the recycle bin.", rt.version, img.Name)), http.StatusNotFound, nil
		}
		img.SoftDeleted = slices.Delete(img.SoftDeleted, i, i+1)
		img.Versions = append(img.Versions, rt.version)
		// Follow-up through a long-running operation, as ARM does for gallery writes.
		s.opSeq++
		id := "op-" + strconv.Itoa(s.opSeq)
		s.ops[id] = s.opts.OperationPolls
		h := http.Header{}
		h.Set("Azure-AsyncOperation", fmt.Sprintf("%s/subscriptions/%s/providers/Microsoft.Compute/locations/%s/capsOperations/%s?api-version=2026-03-03",
			baseURL(r), sub.ID, strings.ToLower(strings.ReplaceAll(gal.Location, " ", "")), id))
		v := versionModel(sub.ID, gal, img, rt.version)
		v.Properties.ProvisioningState = to.Ptr(armcompute.GalleryProvisioningStateUpdating)
		// ARM answers a PATCH with 200 and a PUT with 201, both with Azure-AsyncOperation (the
		// SDK's update accepts nothing but 200).
		if r.Method == http.MethodPatch {
			return v, http.StatusOK, h
		}
		return v, http.StatusCreated, h
	}
	return errorBody("MethodNotAllowed", r.Method+" is not simulated here"), http.StatusMethodNotAllowed, nil
}

// operation answers a long-running operation's status: InProgress for OperationPolls polls,
// then Succeeded.
func (s *Server) operation(id string) (any, int) {
	left, ok := s.ops[id]
	if !ok {
		return errorBody("ResourceNotFound", "no such operation"), http.StatusNotFound
	}
	if left > 0 {
		s.ops[id] = left - 1
		return map[string]string{"name": id, "status": "InProgress"}, http.StatusOK
	}
	return map[string]string{"name": id, "status": "Succeeded"}, http.StatusOK
}

func baseURL(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

func vmModel(sub string, vm VM) *armcompute.VirtualMachine {
	return &armcompute.VirtualMachine{
		ID:   to.Ptr("/subscriptions/" + sub + "/resourceGroups/" + vm.ResourceGroup + "/providers/Microsoft.Compute/virtualMachines/" + vm.Name),
		Name: to.Ptr(vm.Name), Location: to.Ptr(vm.Location), Type: to.Ptr("Microsoft.Compute/virtualMachines"),
		Properties: &armcompute.VirtualMachineProperties{
			StorageProfile: &armcompute.StorageProfile{ImageReference: imageReference(vm.ImageID)},
		},
	}
}

func scaleSetModel(sub string, ss ScaleSet) *armcompute.VirtualMachineScaleSet {
	mode := armcompute.OrchestrationModeUniform
	if ss.Flexible {
		mode = armcompute.OrchestrationModeFlexible
	}
	return &armcompute.VirtualMachineScaleSet{
		ID:   to.Ptr("/subscriptions/" + sub + "/resourceGroups/" + ss.ResourceGroup + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + ss.Name),
		Name: to.Ptr(ss.Name), Location: to.Ptr(ss.Location), Type: to.Ptr("Microsoft.Compute/virtualMachineScaleSets"),
		Properties: &armcompute.VirtualMachineScaleSetProperties{
			OrchestrationMode: to.Ptr(mode),
			VirtualMachineProfile: &armcompute.VirtualMachineScaleSetVMProfile{
				StorageProfile: &armcompute.VirtualMachineScaleSetStorageProfile{ImageReference: imageReference(ss.ImageID)},
			},
		},
	}
}
