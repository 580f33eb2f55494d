package silence

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/internal/state"
	"github.com/purgewatch/purgewatch/scanner"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func version(gallery, image, name string) scanner.Version {
	return scanner.Version{Definition: &scanner.Definition{SubscriptionID: "11111111-1111-1111-1111-111111111111", ResourceGroup: "rg",
		Gallery: gallery, Image: image}, Version: name, Location: "westeurope", Triage: []string{}}
}

// TestMatchersReadAsAmtoolWritesThem: the four operators, quoted and bare values, anchored
// regular expressions, and an error that names what is wrong.
func TestMatchersReadAsAmtoolWritesThem(t *testing.T) {
	v := version("prodimages", "ubuntu-22.04", "1.2.0")
	labels := Labels(&v)
	for s, want := range map[string]bool{
		"gallery=prodimages": true, `gallery="prodimages"`: true, "gallery=prod": false,
		`image=~"ubuntu-.*"`: true, `image=~"ubuntu"`: false, "version!=1.0.0": true, "version!=1.2.0": false,
		`image!~"win.*"`: true, "routine=true": true, `deleted_by=""`: true,
		"id=" + strings.ToUpper(v.ID()): true,
	} {
		m, err := ParseMatcher(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if got := m.Matches(labels); got != want {
			t.Errorf("%s matches %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]string{"galery=x": `not a label name`, `image=~"("`: "missing closing )", "gallery": "want name=value",
		`gallery="open`: "not closed"} {
		if _, err := ParseMatcher(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", s, err, want)
		}
	}
}

// TestASilenceNeedsWhoAndWhy: no matcher, no duration, no author or no comment is refused, all
// at once; a silence is active until its end, then expired.
func TestASilenceNeedsWhoAndWhy(t *testing.T) {
	_, err := New(nil, 0, " ", "", t0)
	for _, want := range []string{"at least one matcher", "must be positive", "author", "comment"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	m, _ := ParseMatcher("gallery=ci")
	s, err := New([]Matcher{m}, time.Hour, "alice", "rebuilding CI", t0)
	if err != nil {
		t.Fatal(err)
	}
	if s.State(t0) != StateActive || s.State(t0.Add(time.Hour)) != StateExpired || len(s.ID) != 16 {
		t.Errorf("%+v: states %s, %s", s, s.State(t0), s.State(t0.Add(time.Hour)))
	}
}

// TestSilencesAreKeptInTheStateFile: added, expired and pruned silences outlive a reopen; a
// record that does not read back (a broken regular expression) is named, and the rest are kept.
func TestSilencesAreKeptInTheStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(f)
	m, _ := ParseMatcher(`image=~"ubuntu-.*"`)
	a, _ := New([]Matcher{m}, time.Hour, "alice", "one", t0)
	b, _ := New([]Matcher{m}, 48*time.Hour, "bob", "two", t0)
	for _, s := range []Silence{a, b} {
		if err := st.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Expire(b.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	bad, _ := json.Marshal(map[string]any{"id": "bad", "matchers": []map[string]string{{"name": "image", "op": "=~", "value": "("}}})
	if err := f.SaveSilences(map[string][]byte{"bad": bad}, nil); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if f, err = state.Open(path); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st = NewStore(f)
	list, err := st.List()
	if err == nil || !strings.Contains(err.Error(), "silence bad") || len(list) != 2 {
		t.Fatalf("%d silences, %v; want 2 and an error naming the bad one", len(list), err)
	}
	ubuntu := version("g", "ubuntu-24.04", "1.0.0")
	if got := Matching(list, &ubuntu, t0.Add(2*time.Minute)); got == nil || got.ID != a.ID {
		t.Errorf("matching: %+v, want %s (the other was expired)", got, a.ID)
	}
	if err := st.Prune(t0.Add(Retention + 2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if list, _ = st.List(); len(list) != 0 {
		t.Errorf("%d silences kept after their retention", len(list))
	}
	if _, err := st.Expire("nope", t0); err == nil || !strings.Contains(err.Error(), "no silence has that id") {
		t.Errorf("expiring an unknown id: %v", err)
	}
}

// BenchmarkMatchingAnEstate: what an active silence costs a scan, matched against 100,000
// versions (run with -benchmem: the labels are read, not built).
func BenchmarkMatchingAnEstate(b *testing.B) {
	m, _ := ParseMatcher(`image=~"ubuntu-.*"`)
	g, _ := ParseMatcher("gallery=ci")
	s, _ := New([]Matcher{g, m}, time.Hour, "a", "c", t0)
	vs := make([]scanner.Version, 100_000)
	for i := range vs {
		vs[i] = version("prodimages", "ubuntu-22.04", "1.0.0")
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range vs {
			Matching([]Silence{s}, &vs[i], t0)
		}
	}
}
