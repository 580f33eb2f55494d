package triage

import (
	"slices"
	"testing"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/scanner"
)

const (
	sub   = "00000000-0000-4000-8000-000000000001"
	image = "/subscriptions/" + sub + "/resourcegroups/rg/providers/microsoft.compute/galleries/gal/images/ubuntu"
)

func version(name string) scanner.Version {
	return scanner.Version{Definition: &scanner.Definition{SubscriptionID: sub, ResourceGroup: "rg", Gallery: "gal", Image: "ubuntu",
		Tags: map[string]string{"team": "web"}}, Version: name}
}

func facts(live ...string) Facts {
	return Facts{Live: map[string][]string{image: live}, Users: map[string][]scanner.Workload{}, Workloads: map[string]bool{sub: true}}
}

// TestAVersionIsRoutineOnlyWhenSupersededAndUnused: each fact that speaks against letting a
// version go is a reason of its own, and only their absence is routine.
func TestAVersionIsRoutineOnlyWhenSupersededAndUnused(t *testing.T) {
	inUse := facts("1.2.0")
	inUse.Users[image+"/versions/1.0.0"] = []scanner.Workload{{Kind: "vmss", ID: "/x/api"}}
	noWorkloads := facts("1.2.0")
	noWorkloads.Workloads = map[string]bool{}
	for _, c := range []struct {
		name  string
		v     string
		facts Facts
		want  []Reason
	}{
		{"superseded by 1.10.0 (numbers, not text)", "1.9.0", facts("1.10.0", "1.8.0"), []Reason{}},
		{"the newest deleted", "1.2.0", facts("1.1.0", "1.0.0"), []Reason{Newest}},
		{"nothing live left", "1.0.0", facts(), []Reason{LastVersion}},
		{"superseded but used", "1.0.0", inUse, []Reason{InUse}},
		{"live versions not read", "1.0.0", Facts{Workloads: map[string]bool{sub: true}}, []Reason{UnknownUsage}},
		{"workloads not read", "1.0.0", noWorkloads, []Reason{UnknownUsage}},
		{"the audit is off", "1.0.0", Facts{}, []Reason{UnknownUsage}},
	} {
		got := Judge(version(c.v), c.facts, nil)
		if !slices.Equal(got.Reasons(), c.want) || got.Routine() != (len(c.want) == 0) {
			t.Errorf("%s: reasons %v routine %v, want %v", c.name, got.Reasons(), got.Routine(), c.want)
		}
	}
}

// TestAnExpectedRuleNeverMakesAVersionInUseRoutine: a rule can say a deletion was intended, not
// that nothing needs the version.
func TestAnExpectedRuleNeverMakesAVersionInUseRoutine(t *testing.T) {
	rules := []config.Expected{{Match: config.Match{Gallery: "GAL", Tags: map[string]string{"team": "web"}}}}
	if got := Judge(version("1.2.0"), facts("1.0.0"), rules); !got.Routine() {
		t.Errorf("the newest version under a matching rule: %v, want routine", got.Reasons())
	}
	if got := Judge(version("1.2.0"), facts("1.0.0"), []config.Expected{{Match: config.Match{Image: "other"}}}); got.Routine() {
		t.Error("a rule for another image made the version routine")
	}
	inUse := facts("1.0.0")
	inUse.Users[image+"/versions/1.2.0"] = []scanner.Workload{{Kind: "vm", ID: "/x/web-1"}}
	if got := Judge(version("1.2.0"), inUse, rules); !slices.Equal(got.Reasons(), []Reason{InUse, Newest}) {
		t.Errorf("a version in use under a matching rule: %v, want [in-use newest]", got.Reasons())
	}
	if got := Judge(version("1.2.0"), Facts{}, rules); got != Unknown {
		t.Errorf("a version whose use is unknown under a matching rule: %v, want unknown-usage", got.Reasons())
	}
}

// TestEveryReasonHasWords: a message or the page never shows a bare code for a reason triage
// gives.
func TestEveryReasonHasWords(t *testing.T) {
	for _, r := range Reasons {
		if got := Explain([]string{string(r)}); got == string(r) || got == "" {
			t.Errorf("%s has no words: %q", r, got)
		}
	}
	if got := Explain([]string{"in-use", "from-the-future"}); got != "VMs or scale sets still use it; from-the-future" {
		t.Errorf("Explain = %q", got)
	}
}
