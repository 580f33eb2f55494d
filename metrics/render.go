package metrics

import (
	"bufio"
	"bytes"
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/scanner"
)

// A version's and a gallery's metric lines are rendered once per snapshot, kube-state-metrics
// style, and written out as bytes at every scrape. Rendering streams: lines go through a small
// buffer into the compressor, so no whole exposition is ever held as text, and the rendering keeps
// only the versions' order, not a string per version.

// family is one metric family of the rendered part with few samples (galleries, references).
type family struct {
	name, help string
	samples    []sample
}

type sample struct {
	labels string // `{a="x",b="y"}`, label names sorted
	value  float64
}

var (
	escapeHelp   = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	escapeOMHelp = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// appendValue appends a label value escaped as both formats require.
func appendValue(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\n\"") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '"':
			b = append(b, `\"`...)
		default:
			b = append(b, s[i])
		}
	}
	return b
}

// labelSet renders names=values, sorted by name.
func labelSet(names, values []string) string {
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	b := []byte{'{'}
	for n, i := range idx {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, names[i]...)
		b = append(b, `="`...)
		b = appendValue(b, values[i])
		b = append(b, '"')
	}
	return string(append(b, '}'))
}

// lines writes samples in the text format (om false) or OpenMetrics, reusing its scratch space.
type lines struct {
	w       *bufio.Writer
	om      bool
	scratch []byte
}

// header writes a family's HELP and TYPE lines.
func (l *lines) header(name, help string) {
	l.w.WriteString("# HELP " + name + " ")
	if l.om {
		escapeOMHelp.WriteString(l.w, help)
	} else {
		escapeHelp.WriteString(l.w, help)
	}
	l.w.WriteString("\n# TYPE " + name + " gauge\n")
}

// sample writes name, the label set already in l.scratch[:n], and value.
func (l *lines) sample(name string, n int, value float64) {
	l.w.WriteString(name)
	l.scratch = append(l.scratch[:n], ' ')
	l.scratch = appendFloat(l.scratch, value, l.om)
	l.scratch = append(l.scratch, '\n')
	l.w.Write(l.scratch)
}

func (l *lines) family(f *family) {
	if len(f.samples) == 0 {
		return
	}
	l.header(f.name, f.help)
	for _, s := range f.samples {
		l.scratch = append(l.scratch[:0], s.labels...)
		l.sample(f.name, len(l.scratch), s.value)
	}
}

// appendFloat writes v as expfmt does: OpenMetrics marks an integral value with ".0".
func appendFloat(b []byte, v float64, om bool) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if om && !bytes.ContainsAny(b[start:], "e.") {
		b = append(b, '.', '0')
	}
	return b
}

// rendering is what a published state's families need at scrape time: the state, and the order
// its versions are written in (by label values, label names sorted, as the registry orders).
type rendering struct {
	state *status.State // the published state it was rendered from: a new one is rendered anew
	order []int32       // indexes into state.Snapshot.Versions
	tags  []string      // metrics.tagLabels when it was rendered
}

const secondsPerDay = 24 * 60 * 60

func newRendering(st *status.State, tags []string) *rendering {
	versions := st.Snapshot.Versions
	r := &rendering{state: st, order: make([]int32, len(versions)), tags: tags}
	for i := range r.order {
		r.order[i] = int32(i)
	}
	slices.SortFunc(r.order, func(a, b int32) int {
		x, y := &versions[a], &versions[b]
		return cmp.Or(strings.Compare(x.Gallery, y.Gallery), strings.Compare(x.Image, y.Image),
			strings.Compare(x.Location, y.Location), strings.Compare(x.ResourceGroup, y.ResourceGroup),
			strings.Compare(x.SubscriptionID, y.SubscriptionID), strings.Compare(x.Version, y.Version))
	})
	return r
}

func versionValues(v *scanner.Version) []string {
	return []string{v.SubscriptionID, v.ResourceGroup, v.Gallery, v.Image, v.Version, v.Location}
}

// appendVersionLabels appends v's label set, names in sorted order.
func appendVersionLabels(b []byte, v *scanner.Version) []byte {
	for i, l := range [...]struct{ name, value string }{{"gallery", v.Gallery}, {"image", v.Image}, {"location", v.Location},
		{"resource_group", v.ResourceGroup}, {"subscription_id", v.SubscriptionID}, {"version", v.Version}} {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, l.name...)
		b = append(b, `="`...)
		b = appendValue(b, l.value)
		b = append(b, '"')
	}
	return append(b, '}')
}

// versionFamily writes one family with a sample per version, in the rendering's order.
func (r *rendering) versionFamily(l *lines, f *snapshotFamily, now time.Time) {
	if len(r.order) == 0 {
		return
	}
	versions := r.state.Snapshot.Versions
	if f.known != nil && !slices.ContainsFunc(versions, func(v scanner.Version) bool { return f.known(&v) }) {
		return // no sample: no family
	}
	l.header(f.name, f.help)
	for _, i := range r.order {
		v := &versions[i]
		if f.known != nil && !f.known(v) {
			continue
		}
		l.scratch = appendVersionLabels(l.scratch[:0], v)
		l.sample(f.name, len(l.scratch), f.version(v, now))
	}
}

// families writes the families rendered once per snapshot, as snapshotFamilies lists them.
func (r *rendering) families(l *lines) {
	var inBin map[string]int
	for i := range snapshotFamilies {
		f := &snapshotFamilies[i]
		switch {
		case f.relative:
		case f.version != nil:
			r.versionFamily(l, f, time.Time{})
		case f.references:
			l.family(r.references(f))
		case f.consumed != nil:
			l.family(r.consumed(f))
		case f.triage:
			l.family(r.triage(f))
		case f.tags != 0:
			l.family(r.tagInfo(f))
		case f.gallery != nil:
			if inBin == nil {
				inBin = r.binCounts()
			}
			l.family(r.galleryFamily(f, inBin))
		}
	}
}

// until writes the relative families at now.
func (r *rendering) until(l *lines, now time.Time) {
	for i := range snapshotFamilies {
		if f := &snapshotFamilies[i]; f.relative {
			r.versionFamily(l, f, now)
		}
	}
}

// binCounts is how many versions each gallery's recycle bin holds, by galleryKey.
func (r *rendering) binCounts() map[string]int {
	snap := r.state.Snapshot
	n := make(map[string]int, len(snap.Galleries))
	for i := range snap.Versions {
		v := &snap.Versions[i]
		n[galleryKey(v.SubscriptionID, v.ResourceGroup, v.Gallery)]++
	}
	return n
}

// galleryFamily is f with a sample per gallery, labelled as f names.
func (r *rendering) galleryFamily(f *snapshotFamily, inBin map[string]int) *family {
	out := &family{name: f.name, help: f.help}
	values := make([]string, len(f.labels))
	for i := range r.state.Snapshot.Galleries {
		g := &r.state.Snapshot.Galleries[i]
		for j, name := range f.labels {
			values[j] = galleryLabel(g, name)
		}
		out.samples = append(out.samples, sample{labelSet(f.labels, values),
			f.gallery(g, inBin[galleryKey(g.SubscriptionID, g.ResourceGroup, g.Name)])})
	}
	slices.SortFunc(out.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
	return out
}

// tagInfo is f with a sample per gallery or per image definition holding a version, its tags
// as tag_* labels; a tag it does not have is no label.
func (r *rendering) tagInfo(f *snapshotFamily) *family {
	out := &family{name: f.name, help: f.help}
	add := func(values []string, tags map[string]string) {
		names := slices.Clone(f.labels)
		for _, t := range r.tags {
			if v := tags[t]; v != "" { // an empty label is no label: leave it out
				names, values = append(names, config.TagLabel(t)), append(values, config.TagValue(v))
			}
		}
		out.samples = append(out.samples, sample{labelSet(names, values), 1})
	}
	snap := r.state.Snapshot
	if f.tags == tagsOfGalleries {
		for i := range snap.Galleries {
			g := &snap.Galleries[i]
			add([]string{g.SubscriptionID, g.ResourceGroup, g.Name}, g.Tags)
		}
	} else {
		seen := map[*scanner.Definition]bool{}
		for i := range snap.Versions {
			if d := snap.Versions[i].Definition; !seen[d] {
				seen[d] = true
				add([]string{d.SubscriptionID, d.ResourceGroup, d.Gallery, d.Image}, d.Tags)
			}
		}
	}
	slices.SortFunc(out.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
	out.samples = slices.CompactFunc(out.samples, func(a, b sample) bool { return a.labels == b.labels }) // one definition read twice
	return out
}

// triage is f with a sample per version judged: its verdict, as labels.
func (r *rendering) triage(f *snapshotFamily) *family {
	out := &family{name: f.name, help: f.help}
	versions := r.state.Snapshot.Versions
	for _, i := range r.order {
		v := &versions[i]
		if v.Triage == nil {
			continue
		}
		out.samples = append(out.samples, sample{labelSet(f.labels, append(versionValues(v),
			strconv.FormatBool(v.Routine()), strings.Join(v.Triage, ","), deleters.Label(*v))), 1})
	}
	slices.SortFunc(out.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
	return out
}

// consumed is f with a sample per other publisher's version the audit found soft-deleted.
func (r *rendering) consumed(f *snapshotFamily) *family {
	out := &family{name: f.name, help: f.help}
	if r.state.Audit == nil {
		return out
	}
	for i := range r.state.Audit.Consumed {
		c := &r.state.Audit.Consumed[i]
		out.samples = append(out.samples, sample{labelSet(f.labels, []string{c.Kind, c.Gallery, c.Image, c.Version, c.Location}), f.consumed(c)})
	}
	slices.SortFunc(out.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
	return out
}

// references is f with a sample per version and kind of workload the audit found using it.
func (r *rendering) references(f *snapshotFamily) *family {
	out := &family{name: f.name, help: f.help}
	if r.state.Audit == nil || len(r.state.Audit.References) == 0 {
		return out // no audit, or no references: build no version's id to look it up
	}
	users := r.state.Audit.References
	versions := r.state.Snapshot.Versions
	for _, i := range r.order {
		v := &versions[i]
		workloads := users[strings.ToLower(v.ID())]
		if len(workloads) == 0 {
			continue
		}
		kinds := map[string]int{}
		for _, w := range workloads {
			kinds[w.Kind]++
		}
		for _, kind := range []string{"vm", "vmss"} {
			if kinds[kind] > 0 {
				out.samples = append(out.samples, sample{labelSet(f.labels, append(versionValues(v), kind)), float64(kinds[kind])})
			}
		}
	}
	slices.SortFunc(out.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
	return out
}
