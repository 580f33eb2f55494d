package arm

import (
	"testing"
)

func TestOperationNamesAreABoundedSet(t *testing.T) {
	g := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g"
	cases := map[string]string{
		"GET /subscriptions": "list_subscriptions",
		"GET /subscriptions/s/providers/Microsoft.Compute/galleries": "list_galleries",
		"GET " + g + "/images": "list_images",
		"GET " + g + "/softdeletedartifacttypes/Images/artifacts/i/versions":                   "list_soft_deleted_versions",
		"DELETE " + g + "/softDeletedArtifactTypes/Images/artifacts/i/versions/1.0.0":          "delete_soft_deleted_version",
		"GET " + g + "/images/i/versions":                                                      "list_versions",
		"GET " + g + "/images/i/versions/1.0.0":                                                "get_version",
		"PATCH " + g + "/images/i/versions/1.0.0":                                              "update_version",
		"PUT " + g + "/images/i/versions/1.0.0":                                                "put_version",
		"GET /subscriptions/s/providers/Microsoft.Compute/locations/westus/capsOperations/abc": "poll_operation",
		"GET /subscriptions/s/providers/Microsoft.Compute/virtualMachines":                     "list_vms",
		"GET /subscriptions/s/somethingElse/x":                                                 "get_other",
	}
	for req, want := range cases {
		method, path, _ := cut(req)
		if got := Operation(method, path); got != want {
			t.Errorf("Operation(%s) = %s, want %s", req, got, want)
		}
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func TestSubscriptionOf(t *testing.T) {
	for path, want := range map[string]string{
		"/subscriptions/ABC-1/resourceGroups/x": "abc-1",
		"/Subscriptions/abc":                    "abc",
		"/subscriptions":                        "",
		"/providers/Microsoft.Compute":          "",
	} {
		if got := SubscriptionOf(path); got != want {
			t.Errorf("SubscriptionOf(%q) = %q, want %q", path, got, want)
		}
	}
}
