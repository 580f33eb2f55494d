package triage

import (
	"slices"
	"testing"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/deleters"
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
		got := Judge(version(c.v), c.facts, config.ExpectedDeletions{})
		if !slices.Equal(got.Reasons(), c.want) || got.Routine() != (len(c.want) == 0) {
			t.Errorf("%s: reasons %v routine %v, want %v", c.name, got.Reasons(), got.Routine(), c.want)
		}
	}
}

// TestAnExpectedRuleNeverMakesAVersionInUseRoutine: a rule can say a deletion was intended, not
// that nothing needs the version.
func TestAnExpectedRuleNeverMakesAVersionInUseRoutine(t *testing.T) {
	rules := config.ExpectedDeletions{Rules: []config.Expected{{Match: config.Match{Gallery: "GAL", Tags: map[string]string{"team": "web"}}}}}
	if got := Judge(version("1.2.0"), facts("1.0.0"), rules); !got.Routine() {
		t.Errorf("the newest version under a matching rule: %v, want routine", got.Reasons())
	}
	if got := Judge(version("1.2.0"), facts("1.0.0"), config.ExpectedDeletions{Rules: []config.Expected{{Match: config.Match{Image: "other"}}}}); got.Routine() {
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

// TestExpectedDeletersDecideWhoMayPrune: with notify.expected.deleters set, a superseded, unused
// version is routine only when one of them deleted it (by app id, object id or a UPN glob); one
// deleted by anyone else is unexpected-deleter, one the Activity Log settled as not known is
// unknown-deleter, and one it may still tell is judged on the rest until it does.
func TestExpectedDeletersDecideWhoMayPrune(t *testing.T) {
	pipeline := &scanner.Deletion{Caller: "0b4e7f1c-app", AppID: "0b4e7f1c-app", ObjectID: "5d1f-obj", PrincipalType: "ServicePrincipal"}
	person := &scanner.Deletion{Caller: "alice@contoso.com", PrincipalName: "alice@contoso.com", ObjectID: "9a2c-obj", PrincipalType: "User"}
	old := func(by *scanner.Deletion, unknown string) scanner.Version {
		v := version("1.0.0")
		v.DeletedBy, v.DeletedByUnknown = by, unknown
		return v
	}
	for _, c := range []struct {
		name     string
		deleters []string
		v        scanner.Version
		want     []Reason
	}{
		{"no expected deleters: anyone may prune", nil, old(person, ""), []Reason{}},
		{"the pipeline's app id", []string{"0B4E7F1C-APP"}, old(pipeline, ""), []Reason{}},
		{"the pipeline's object id", []string{"5d1f-obj"}, old(pipeline, ""), []Reason{}},
		{"a person, not expected", []string{"0b4e7f1c-app"}, old(person, ""), []Reason{UnexpectedDeleter}},
		{"a person a UPN glob names", []string{"0b4e7f1c-app", "*@CONTOSO.com"}, old(person, ""), []Reason{}},
		{"settled as not known", []string{"0b4e7f1c-app"}, old(nil, deleters.NoEntry), []Reason{UnknownDeleter}},
		{"too old for the log", []string{"0b4e7f1c-app"}, old(nil, deleters.TooOld), []Reason{UnknownDeleter}},
		{"not in the log yet", []string{"0b4e7f1c-app"}, old(nil, deleters.NotYet), []Reason{}},
	} {
		got := Judge(c.v, facts("1.2.0"), config.ExpectedDeletions{Deleters: c.deleters})
		if !slices.Equal(got.Reasons(), c.want) {
			t.Errorf("%s: %v, want %v", c.name, got.Reasons(), c.want)
		}
	}
	rule := config.ExpectedDeletions{Deleters: []string{"0b4e7f1c-app"},
		Rules: []config.Expected{{Match: config.Match{DeletedBy: "alice@*"}}}}
	if got := Judge(old(person, ""), facts("1.2.0"), rule); !got.Routine() {
		t.Errorf("a rule on deletedBy: %v, want routine", got.Reasons())
	}
}
