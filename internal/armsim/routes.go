package armsim

import "strings"

type kind int

const (
	kindSubscriptions kind = iota
	kindGalleries
	kindGallery
	kindImages
	kindImage
	kindVersions
	kindVersion
	kindSoftDeleted
	kindSoftDeletedVersion
	kindVirtualMachines
	kindScaleSets
	kindOperation
	kindGraph
	kindActivityLog
	kindConsumedVersion
)

// target is a parsed request path. scope is the ARM id a fault on it is matched against.
type target struct {
	kind                                    kind
	sub, rg, gallery, image, version, scope string
	consumedKind                            string
}

// route parses the ARM paths the simulator answers, case-insensitively as ARM does.
func route(path string) (target, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	low := make([]string, len(segs))
	for i, s := range segs {
		low[i] = strings.ToLower(s)
	}
	n := len(low)
	if strings.EqualFold(strings.TrimSuffix(path, "/"), GraphPath) {
		return target{kind: kindGraph, scope: GraphPath}, true
	}
	if n == 1 && low[0] == "subscriptions" {
		return target{kind: kindSubscriptions, scope: "/subscriptions"}, true
	}
	if n < 2 || low[0] != "subscriptions" {
		return target{}, false
	}
	rt := target{sub: segs[1], scope: "/subscriptions/" + segs[1]}
	if strings.HasSuffix(strings.ToLower(strings.TrimSuffix(path, "/")), activityLogSuffix) && n == 7 {
		rt.kind, rt.scope = kindActivityLog, rt.scope+"/providers/Microsoft.Insights"
		return rt, true
	}
	if n == 5 && low[2] == "providers" && low[3] == "microsoft.compute" {
		switch low[4] {
		case "galleries":
			rt.kind = kindGalleries
			return rt, true
		case "virtualmachines":
			rt.kind, rt.scope = kindVirtualMachines, rt.scope+"/providers/Microsoft.Compute/virtualMachines"
			return rt, true
		case "virtualmachinescalesets":
			rt.kind, rt.scope = kindScaleSets, rt.scope+"/providers/Microsoft.Compute/virtualMachineScaleSets"
			return rt, true
		}
	}
	// .../providers/Microsoft.Compute/locations/L/{sharedGalleries|communityGalleries}/G/images/I/versions/V:
	// another publisher's image version (rg carries the location, image the gallery's kind).
	if n == 12 && low[2] == "providers" && low[3] == "microsoft.compute" && low[4] == "locations" &&
		(low[6] == "sharedgalleries" || low[6] == "communitygalleries") && low[8] == "images" && low[10] == "versions" {
		rt.kind, rt.rg, rt.gallery, rt.image, rt.version = kindConsumedVersion, segs[5], segs[7], segs[9], segs[11]
		rt.scope += "/providers/Microsoft.Compute/locations/" + segs[5] + "/" + segs[6] + "/" + segs[7]
		if low[6] == "sharedgalleries" {
			rt.consumedKind = "shared"
		} else {
			rt.consumedKind = "community"
		}
		return rt, true
	}
	// .../providers/Microsoft.Compute/locations/L/capsOperations/ID: a long-running operation.
	if n == 8 && low[2] == "providers" && low[3] == "microsoft.compute" && low[4] == "locations" && low[6] == "capsoperations" {
		rt.kind, rt.version = kindOperation, segs[7]
		return rt, true
	}
	// /subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/galleries/G/...
	if n < 8 || low[2] != "resourcegroups" || low[4] != "providers" || low[5] != "microsoft.compute" || low[6] != "galleries" {
		return target{}, false
	}
	rt.rg, rt.gallery = segs[3], segs[7]
	galleryID := "/subscriptions/" + rt.sub + "/resourceGroups/" + rt.rg + "/providers/Microsoft.Compute/galleries/" + rt.gallery
	rest, lrest := segs[8:], low[8:]
	rt.scope = galleryID
	switch {
	case len(rest) == 0:
		rt.kind = kindGallery
	case len(rest) == 1 && lrest[0] == "images":
		rt.kind = kindImages
	case len(rest) >= 2 && lrest[0] == "images":
		rt.image = rest[1]
		rt.scope = galleryID + "/images/" + rt.image
		switch {
		case len(rest) == 2:
			rt.kind = kindImage
		case len(rest) == 3 && lrest[2] == "versions":
			rt.kind = kindVersions
		case len(rest) == 4 && lrest[2] == "versions":
			rt.kind, rt.version = kindVersion, rest[3]
			rt.scope += "/versions/" + rt.version
		default:
			return target{}, false
		}
	// .../softDeletedArtifactTypes/Images/artifacts/I/versions[/V]
	case len(rest) >= 5 && lrest[0] == "softdeletedartifacttypes" && lrest[1] == "images" && lrest[2] == "artifacts" && lrest[4] == "versions":
		rt.image = rest[3]
		rt.scope = galleryID + "/images/" + rt.image
		switch len(rest) {
		case 5:
			rt.kind = kindSoftDeleted
		case 6:
			rt.kind, rt.version = kindSoftDeletedVersion, rest[5]
			rt.scope += "/versions/" + rt.version
		default:
			return target{}, false
		}
	default:
		return target{}, false
	}
	return rt, true
}
