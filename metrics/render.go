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
	buf.WriteString("# HELP ")
	buf.WriteString(f.name)
	buf.WriteByte(' ')
	if om {
		escapeOMHelp.WriteString(buf, f.help)
	} else {
		escapeHelp.WriteString(buf, f.help)
	}
	buf.WriteString("\n# TYPE ")
	buf.WriteString(f.name)
	buf.WriteString(" gauge\n")
	num := make([]byte, 0, 32)
	for _, s := range f.samples {
		buf.WriteString(f.name)
		buf.WriteString(s.labels)
		buf.WriteByte(' ')
		num = appendFloat(num[:0], s.value, om)
		buf.Write(num)
		buf.WriteByte('\n')
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
	if om && !bytes.ContainsAny(b, "e.") && !bytes.Contains(b, []byte("Inf")) {
		b = append(b, '.', '0')
	}
	return b
}

// rendering is what a published state's families need at scrape time: the state, and the
// labels and purge times of seconds_until_purge, whose value changes with every scrape.
type rendering struct {
	state *status.State // the published state it was rendered from: a new one is rendered anew
	until []untilSample
}

type untilSample struct {
	labels string
	purge  time.Time
}

var (
	versionLabelNames = []string{"subscription_id", "resource_group", "gallery", "image", "version", "location"}
	galleryLabelNames = []string{"subscription_id", "resource_group", "gallery", "location"}
	binLabelNames     = []string{"subscription_id", "resource_group", "gallery"}
)

func newRendering(st *status.State) *rendering {
	r := &rendering{state: st, until: make([]untilSample, 0, len(st.Snapshot.Versions))}
	for i := range st.Snapshot.Versions {
		v := &st.Snapshot.Versions[i]
		r.until = append(r.until, untilSample{labelSet(versionLabelNames, versionValues(v)), v.PurgeAt})
	}
	slices.SortFunc(r.until, func(a, b untilSample) int { return strings.Compare(a.labels, b.labels) })
	return r
}

func versionValues(v *scanner.Version) []string {
	return []string{v.SubscriptionID, v.ResourceGroup, v.Gallery, v.Image, v.Version, v.Location}
}

// families renders the state's version and gallery families in the text format or OpenMetrics.
func (r *rendering) families(om bool) []byte {
	st := r.state
	snap := st.Snapshot
	purge := family{name: "purgewatch_soft_deleted_version_purge_timestamp_seconds", help: "When the soft-deleted image version will be purged for good (Unix time)."}
	end := family{name: "purgewatch_soft_deleted_version_consumption_end_timestamp_seconds", help: "When VMs and scale-outs can no longer be created from the soft-deleted image version (Unix time)."}
	deleted := family{name: "purgewatch_soft_deleted_version_deleted_timestamp_seconds", help: "When the image version was soft-deleted (Unix time)."}
	refs := family{name: "purgewatch_soft_deleted_version_references", help: "VMs (kind=vm) or scale sets (kind=vmss) still created from the soft-deleted image version; only versions with any."}
	var users map[string][]scanner.Workload
	if st.Audit != nil {
		users = st.Audit.References
	}
	perGallery := make(map[string]int, len(snap.Galleries))
	for i := range snap.Versions {
		v := &snap.Versions[i]
		values := versionValues(v)
		labels := labelSet(versionLabelNames, values)
		purge.samples = append(purge.samples, sample{labels, unix(v.PurgeAt)})
		end.samples = append(end.samples, sample{labels, unix(v.ConsumptionEndsAt)})
		deleted.samples = append(deleted.samples, sample{labels, unix(v.SoftDeletedAt)})
		kinds := map[string]int{}
		for _, w := range users[strings.ToLower(v.ID)] {
			kinds[w.Kind]++
		}
		for _, kind := range []string{"vm", "vmss"} {
			if kinds[kind] > 0 {
				refs.samples = append(refs.samples, sample{labelSet(append(versionLabelNames[:6:6], "kind"), append(values, kind)), float64(kinds[kind])})
			}
		}
		perGallery[galleryKey(v.SubscriptionID, v.ResourceGroup, v.Gallery)]++
	}
	softDelete := family{name: "purgewatch_gallery_soft_delete_enabled", help: "1 when the gallery has soft delete on."}
	retention := family{name: "purgewatch_gallery_soft_delete_retention_days", help: "Days a soft-deleted version stays usable: the gallery's retention, or the configured default."}
	grace := family{name: "purgewatch_gallery_soft_delete_grace_days", help: "Days a soft-deleted version stays recoverable after it stops being usable."}
	bin := family{name: "purgewatch_soft_deleted_versions", help: "How many soft-deleted image versions the gallery's recycle bin holds."}
	for i := range snap.Galleries {
		g := &snap.Galleries[i]
		labels := labelSet(galleryLabelNames, []string{g.SubscriptionID, g.ResourceGroup, g.Name, g.Location})
		softDelete.samples = append(softDelete.samples, sample{labels, boolValue(g.SoftDeleteEnabled)})
		retention.samples = append(retention.samples, sample{labels, float64(g.RetentionDays)})
		grace.samples = append(grace.samples, sample{labels, float64(g.GraceDays)})
		bin.samples = append(bin.samples, sample{labelSet(binLabelNames, []string{g.SubscriptionID, g.ResourceGroup, g.Name}),
			float64(perGallery[galleryKey(g.SubscriptionID, g.ResourceGroup, g.Name)])})
	}
	var buf bytes.Buffer
	buf.Grow(len(snap.Versions) * 3 * 200)
	for _, f := range []*family{&softDelete, &grace, &retention, &end, &deleted, &purge, &refs, &bin} {
		slices.SortFunc(f.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
		f.write(&buf, om)
	}
	return buf.Bytes()
}

// writeUntil appends seconds_until_purge at now.
func (r *rendering) writeUntil(buf *bytes.Buffer, now time.Time, om bool) {
	f := family{name: "purgewatch_soft_deleted_version_seconds_until_purge", help: "Seconds until the soft-deleted image version is purged; negative when overdue.",
		samples: make([]sample, len(r.until))}
	for i, u := range r.until {
		f.samples[i] = sample{u.labels, u.purge.Sub(now).Seconds()}
	}
	f.write(buf, om)
}
