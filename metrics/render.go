package metrics

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/status"
	"github.com/purgewatch/purgewatch/scanner"
)

// A version's and a gallery's metric lines are rendered once per snapshot, kube-state-metrics
// style, in both formats the scrape may ask for, and written out as bytes at every scrape.

// family is one metric family of the rendered part.
type family struct {
	name, help string
	samples    []sample
}

type sample struct {
	labels string // `{a="x",b="y"}`, label names sorted
	value  float64
}

var (
	escapeLabel  = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
	escapeHelp   = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	escapeOMHelp = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// labelSet renders names=values, sorted by name.
func labelSet(names, values []string) string {
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	var b strings.Builder
	b.WriteByte('{')
	for n, i := range idx {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(names[i])
		b.WriteString(`="`)
		escapeLabel.WriteString(&b, values[i])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// write appends f in the text format (om false) or OpenMetrics.
func (f *family) write(buf *bytes.Buffer, om bool) {
	if len(f.samples) == 0 {
		return
	}
	header(buf, f.name, f.help, om)
	num := make([]byte, 0, 32)
	for _, s := range f.samples {
		num = line(buf, num, f.name, s.labels, s.value, om)
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
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if om && !bytes.ContainsAny(b, "e.") {
		b = append(b, '.', '0')
	}
	return b
}

// rendering is what a published state's families need at scrape time: the state, and each
// version's label set, rendered once and sorted (the order of every version family).
type rendering struct {
	state    *status.State // the published state it was rendered from: a new one is rendered anew
	versions []versionLine
}

type versionLine struct {
	labels string // `{gallery="…",…}`
	v      *scanner.Version
}

var (
	versionLabelNames = []string{"subscription_id", "resource_group", "gallery", "image", "version", "location"}
	galleryLabelNames = []string{"subscription_id", "resource_group", "gallery", "location"}
	binLabelNames     = []string{"subscription_id", "resource_group", "gallery"}
)

func newRendering(st *status.State) *rendering {
	r := &rendering{state: st, versions: make([]versionLine, len(st.Snapshot.Versions))}
	for i := range st.Snapshot.Versions {
		v := &st.Snapshot.Versions[i]
		r.versions[i] = versionLine{labelSet(versionLabelNames, versionValues(v)), v}
	}
	slices.SortFunc(r.versions, func(a, b versionLine) int { return strings.Compare(a.labels, b.labels) })
	return r
}

func versionValues(v *scanner.Version) []string {
	return []string{v.SubscriptionID, v.ResourceGroup, v.Gallery, v.Image, v.Version, v.Location}
}

// header writes a family's HELP and TYPE lines.
func header(buf *bytes.Buffer, name, help string, om bool) {
	buf.WriteString("# HELP " + name + " ")
	if om {
		escapeOMHelp.WriteString(buf, help)
	} else {
		escapeHelp.WriteString(buf, help)
	}
	buf.WriteString("\n# TYPE " + name + " gauge\n")
}

// line writes one sample.
func line(buf *bytes.Buffer, num []byte, name, labels string, value float64, om bool) []byte {
	buf.WriteString(name)
	buf.WriteString(labels)
	buf.WriteByte(' ')
	num = appendFloat(num[:0], value, om)
	buf.Write(num)
	buf.WriteByte('\n')
	return num
}

// versionFamily writes one family with a sample per version, straight from the sorted lines.
func (r *rendering) versionFamily(buf *bytes.Buffer, name, help string, om bool, value func(*scanner.Version) float64) {
	if len(r.versions) == 0 {
		return
	}
	header(buf, name, help, om)
	num := make([]byte, 0, 32)
	for _, l := range r.versions {
		num = line(buf, num, name, l.labels, value(l.v), om)
	}
}

// families renders the state's version and gallery families in the text format or OpenMetrics,
// writing each line straight into one buffer.
func (r *rendering) families(om bool) []byte {
	st := r.state
	snap := st.Snapshot
	var users map[string][]scanner.Workload
	if st.Audit != nil {
		users = st.Audit.References
	}
	perGallery := make(map[string]int, len(snap.Galleries))
	for i := range snap.Versions {
		v := &snap.Versions[i]
		perGallery[galleryKey(v.SubscriptionID, v.ResourceGroup, v.Gallery)]++
	}
	gal := family{name: "purgewatch_gallery_soft_delete_enabled", help: "1 when the gallery has soft delete on."}
	retention := family{name: "purgewatch_gallery_soft_delete_retention_days", help: "Days a soft-deleted version stays usable: the gallery's retention, or the configured default."}
	grace := family{name: "purgewatch_gallery_soft_delete_grace_days", help: "Days a soft-deleted version stays recoverable after it stops being usable."}
	bin := family{name: "purgewatch_soft_deleted_versions", help: "How many soft-deleted image versions the gallery's recycle bin holds."}
	for i := range snap.Galleries {
		g := &snap.Galleries[i]
		labels := labelSet(galleryLabelNames, []string{g.SubscriptionID, g.ResourceGroup, g.Name, g.Location})
		gal.samples = append(gal.samples, sample{labels, boolValue(g.SoftDeleteEnabled)})
		retention.samples = append(retention.samples, sample{labels, float64(g.RetentionDays)})
		grace.samples = append(grace.samples, sample{labels, float64(g.GraceDays)})
		bin.samples = append(bin.samples, sample{labelSet(binLabelNames, []string{g.SubscriptionID, g.ResourceGroup, g.Name}),
			float64(perGallery[galleryKey(g.SubscriptionID, g.ResourceGroup, g.Name)])})
	}
	for _, f := range []*family{&gal, &retention, &grace, &bin} {
		slices.SortFunc(f.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
	}
	var buf bytes.Buffer
	buf.Grow(len(snap.Versions) * 3 * 220)
	gal.write(&buf, om)
	grace.write(&buf, om)
	retention.write(&buf, om)
	r.versionFamily(&buf, "purgewatch_soft_deleted_version_consumption_end_timestamp_seconds",
		"When VMs and scale-outs can no longer be created from the soft-deleted image version (Unix time).", om,
		func(v *scanner.Version) float64 { return unix(v.ConsumptionEndsAt) })
	r.versionFamily(&buf, "purgewatch_soft_deleted_version_deleted_timestamp_seconds",
		"When the image version was soft-deleted (Unix time).", om, func(v *scanner.Version) float64 { return unix(v.SoftDeletedAt) })
	r.versionFamily(&buf, "purgewatch_soft_deleted_version_purge_timestamp_seconds",
		"When the soft-deleted image version will be purged for good (Unix time).", om, func(v *scanner.Version) float64 { return unix(v.PurgeAt) })
	refs := family{name: "purgewatch_soft_deleted_version_references",
		help: "VMs (kind=vm) or scale sets (kind=vmss) still created from the soft-deleted image version; only versions with any."}
	for _, l := range r.versions {
		workloads := users[strings.ToLower(l.v.ID)]
		if len(workloads) == 0 {
			continue
		}
		kinds := map[string]int{}
		for _, w := range workloads {
			kinds[w.Kind]++
		}
		for _, kind := range []string{"vm", "vmss"} {
			if kinds[kind] > 0 {
				refs.samples = append(refs.samples, sample{labelSet(append(versionLabelNames[:6:6], "kind"), append(versionValues(l.v), kind)), float64(kinds[kind])})
			}
		}
	}
	slices.SortFunc(refs.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
	refs.write(&buf, om)
	bin.write(&buf, om)
	return buf.Bytes()
}

// writeUntil appends seconds_until_purge at now.
func (r *rendering) writeUntil(buf *bytes.Buffer, now time.Time, om bool) {
	r.versionFamily(buf, "purgewatch_soft_deleted_version_seconds_until_purge", "Seconds until the soft-deleted image version is purged; negative when overdue.", om,
		func(v *scanner.Version) float64 { return v.PurgeAt.Sub(now).Seconds() })
}
