package deploytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/testtool"
)

const chart = "../../deploy/helm/purgewatch"

// rendered is a chart's manifests, each decoded strictly into its Kubernetes API type.
type rendered struct {
	deployment     *appsv1.Deployment
	serviceAccount *corev1.ServiceAccount
	configMaps     map[string]*corev1.ConfigMap
	service        *corev1.Service
	pvc            *corev1.PersistentVolumeClaim
	networkPolicy  *networkingv1.NetworkPolicy
	serviceMonitor *monitoringv1.ServiceMonitor
	rule           *monitoringv1.PrometheusRule
	pdb            *policyv1.PodDisruptionBudget
}

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := testtool.Require(t, "helm")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// render renders the chart with values files (or --set=… arguments).
func render(t *testing.T, values ...string) rendered {
	t.Helper()
	// Workload identity is on by default and refuses an empty client id
	// (TestHelmRefusesWorkloadIdentityWithoutAClientID): a values file first, which later ones override.
	identity := filepath.Join(t.TempDir(), "identity.yaml")
	if err := os.WriteFile(identity, []byte("serviceAccount:\n  workloadIdentity:\n    clientId: "+testClientID+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"template", "pw", chart, "--namespace", "monitoring", "-f", identity}
	for _, v := range values {
		if strings.HasPrefix(v, "--") {
			args = append(args, v)
		} else {
			args = append(args, "-f", v)
		}
	}
	out := helm(t, args...)
	r := rendered{configMaps: map[string]*corev1.ConfigMap{}}
	for _, doc := range strings.Split(string(out), "\n---\n") {
		doc = strings.TrimSpace(strings.TrimPrefix(doc, "---"))
		if doc == "" {
			continue
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		var into any
		switch meta.Kind {
		case "Deployment":
			r.deployment = &appsv1.Deployment{}
			into = r.deployment
		case "ServiceAccount":
			r.serviceAccount = &corev1.ServiceAccount{}
			into = r.serviceAccount
		case "ConfigMap":
			into = &corev1.ConfigMap{}
		case "Service":
			r.service = &corev1.Service{}
			into = r.service
		case "PersistentVolumeClaim":
			r.pvc = &corev1.PersistentVolumeClaim{}
			into = r.pvc
		case "NetworkPolicy":
			r.networkPolicy = &networkingv1.NetworkPolicy{}
			into = r.networkPolicy
		case "ServiceMonitor":
			r.serviceMonitor = &monitoringv1.ServiceMonitor{}
			into = r.serviceMonitor
		case "PrometheusRule":
			r.rule = &monitoringv1.PrometheusRule{}
			into = r.rule
		case "PodDisruptionBudget":
			r.pdb = &policyv1.PodDisruptionBudget{}
			into = r.pdb
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
		// Strict: a field the API type does not have is a mistake in the chart.
		if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
			t.Fatalf("%s does not parse strictly: %v\n%s", meta.Kind, err, doc)
		}
		if cm, ok := into.(*corev1.ConfigMap); ok {
			r.configMaps[cm.Name] = cm
		}
	}
	return r
}

// testClientID is the managed identity the tests install with.
const testClientID = "0a0a0a0a-1111-2222-3333-444444444444"

func TestHelmLint(t *testing.T) {
	helm(t, "lint", "--strict", chart, "--set", "serviceAccount.workloadIdentity.clientId="+testClientID)
	helm(t, "lint", "--strict", chart, "-f", chart+"/ci/full-values.yaml")
}

func TestHelmDefaultValues(t *testing.T) {
	r := render(t)
	d := r.deployment
	if d == nil || r.serviceAccount == nil || r.service == nil || r.configMaps["pw-purgewatch"] == nil {
		t.Fatalf("missing core objects: %+v", r)
	}
	if r.pvc != nil || r.networkPolicy != nil || r.serviceMonitor != nil || r.rule != nil || len(r.configMaps) != 1 {
		t.Errorf("optional objects rendered by default")
	}
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %d, strategy %s", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	pod := d.Spec.Template
	if pod.Labels["azure.workload.identity/use"] != "true" || pod.Spec.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("workload identity: labels %v, service account %q", pod.Labels, pod.Spec.ServiceAccountName)
	}
	c := pod.Spec.Containers[0]
	sc := c.SecurityContext
	if !*pod.Spec.SecurityContext.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
		len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || pod.Spec.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("security context not hardened: pod %+v container %+v", pod.Spec.SecurityContext, sc)
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes %s, %s", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	if got := strings.Join(c.Args, " "); got != "run --config.file=/etc/purgewatch/config.yaml" {
		t.Errorf("args = %q", got)
	}
	cfg, err := config.Parse("config.yaml", []byte(r.configMaps["pw-purgewatch"].Data["config.yaml"]), os.LookupEnv)
	if err != nil {
		t.Fatalf("the chart's default config is refused by purgewatch: %v", err)
	}
	if cfg.Azure.Auth != config.AuthWorkloadIdentity || cfg.Notify.StateFile != "/var/lib/purgewatch/state.db" {
		t.Errorf("config = %+v", cfg)
	}
}

func TestHelmFullExample(t *testing.T) {
	r := render(t, chart+"/ci/full-values.yaml")
	if r.pvc == nil || r.networkPolicy == nil || r.serviceMonitor == nil || r.rule == nil || r.configMaps["pw-purgewatch-dashboard"] == nil {
		t.Fatalf("the full example lacks objects: %+v", r)
	}
	if r.serviceAccount.Annotations["azure.workload.identity/client-id"] != "00000000-1111-2222-3333-444444444444" {
		t.Errorf("service account annotations = %v", r.serviceAccount.Annotations)
	}
	pod := r.deployment.Spec.Template.Spec
	if pod.Containers[0].EnvFrom[0].SecretRef.Name != "purgewatch-secrets" {
		t.Errorf("secrets not from the existing Secret: %+v", pod.Containers[0].EnvFrom)
	}
	var claim string
	for _, v := range pod.Volumes {
		if v.Name == "state" && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != r.pvc.Name {
		t.Errorf("state volume claim %q, PVC %q", claim, r.pvc.Name)
	}
	if ep := r.serviceMonitor.Spec.Endpoints[0]; ep.Port != "http" || ep.Path != "/metrics" || r.serviceMonitor.Labels["release"] != "kube-prometheus-stack" {
		t.Errorf("service monitor = %+v", r.serviceMonitor)
	}

	// What prometheus-community charts take: a priority class, more environment, volumes and
	// mounts, a web config from a Secret (and the probes' scheme with it), relabelings.
	if pod.PriorityClassName != "monitoring-high" {
		t.Errorf("priorityClassName = %q", pod.PriorityClassName)
	}
	c := pod.Containers[0]
	if len(c.Env) != 2 || c.Env[0].Name != "HTTPS_PROXY" || c.Env[0].Value != "http://proxy.internal:3128" {
		t.Errorf("env = %+v", c.Env)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	if v := volumes["ca-bundle"]; v.ConfigMap == nil || v.ConfigMap.Name != "corporate-ca" {
		t.Errorf("extraVolumes: ca-bundle = %+v", v)
	}
	if v := volumes["web-config"]; v.Secret == nil || v.Secret.SecretName != "purgewatch-web-config" {
		t.Errorf("web-config volume = %+v", v)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["ca-bundle"] != "/etc/ssl/certs/corporate-ca.pem" || mounts["web-config"] != "/etc/purgewatch/web" {
		t.Errorf("mounts = %v", mounts)
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p.HTTPGet.Scheme != corev1.URISchemeHTTPS {
			t.Errorf("%s probe scheme = %q, want HTTPS as webConfig says", name, p.HTTPGet.Scheme)
		}
	}
	if ep := r.serviceMonitor.Spec.Endpoints[0]; ep.Scheme == nil || *ep.Scheme != "https" || len(ep.RelabelConfigs) != 1 || len(ep.MetricRelabelConfigs) != 1 ||
		ep.TLSConfig == nil || ep.TLSConfig.InsecureSkipVerify == nil || !*ep.TLSConfig.InsecureSkipVerify {
		t.Errorf("service monitor endpoint = %+v", ep)
	}

	// The configuration the chart renders is one purgewatch accepts.
	env := map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/x", "SMTP_PASSWORD": "p"}
	// The web config is the mounted Secret's, passed as the Prometheus stack passes it.
	if got := strings.Join(c.Args, " "); got != "run --config.file=/etc/purgewatch/config.yaml --web.config.file=/etc/purgewatch/web/web-config.yml --web.external-url=https://purgewatch.example.com/" {
		t.Errorf("args = %q", got)
	}
	text := r.configMaps["pw-purgewatch"].Data["config.yaml"]
	cfg, err := config.Parse("config.yaml", []byte(text),
		func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("the full example's config is refused by purgewatch: %v", err)
	}
	if len(cfg.Notify.Channels) != 3 || cfg.Azure.Concurrency != 8 {
		t.Errorf("config = %+v", cfg)
	}

	// The PrometheusRule carries deploy/prometheus/rules.yaml, the ConfigMap the dashboard.
	var want struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}
	rules, _ := os.ReadFile(repo("deploy/prometheus/rules.yaml"))
	if err := yaml.UnmarshalStrict(rules, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.rule.Spec.Groups, want.Groups) {
		t.Errorf("PrometheusRule groups differ from deploy/prometheus/rules.yaml")
	}
	dash, _ := os.ReadFile(repo("deploy/grafana/purgewatch.json"))
	if got := r.configMaps["pw-purgewatch-dashboard"].Data["purgewatch.json"]; got != strings.TrimRight(string(dash), "\n") {
		t.Errorf("dashboard ConfigMap differs from deploy/grafana/purgewatch.json")
	}
}

// Names as prometheus-community charts override them.
func TestHelmNameOverrides(t *testing.T) {
	r := render(t, "--set=fullnameOverride=watch")
	if r.deployment.Name != "watch" || r.service.Name != "watch" || r.configMaps["watch"] == nil || r.serviceAccount.Name != "watch" {
		t.Errorf("fullnameOverride: deployment %q, service %q, service account %q", r.deployment.Name, r.service.Name, r.serviceAccount.Name)
	}
	r = render(t, "--set=nameOverride=pgw")
	if r.deployment.Name != "pw-pgw" || r.deployment.Spec.Template.Labels["app.kubernetes.io/name"] != "pgw" ||
		r.deployment.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != "pgw" {
		t.Errorf("nameOverride: deployment %q, labels %v", r.deployment.Name, r.deployment.Spec.Template.Labels)
	}
}

// TestTheChartsCopiesAreCurrent: Helm reads files only inside the chart, so it carries copies
// of the rules and the dashboard.
func TestTheChartsCopiesAreCurrent(t *testing.T) {
	for copyPath, original := range map[string]string{
		"deploy/helm/purgewatch/files/rules.yaml":      "deploy/prometheus/rules.yaml",
		"deploy/helm/purgewatch/files/purgewatch.json": "deploy/grafana/purgewatch.json",
	} {
		a, err1 := os.ReadFile(repo(copyPath))
		b, err2 := os.ReadFile(repo(original))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s is not a copy of %s: cp %[2]s %[1]s", copyPath, original)
		}
	}
}

func TestHelmRefusesValuesOutsideTheSchema(t *testing.T) {
	bin := testtool.Require(t, "helm")
	for _, set := range []string{"replicaCount=-1", "serviceMonitr.enabled=true", "persistence.size=lots"} {
		out, err := exec.Command(bin, "template", "pw", chart, "--set", set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "schema") {
			t.Errorf("--set %s was accepted:\n%s", set, out)
		}
	}
}

// config: is checked at install time against deploy/config.schema.json, which the Go types
// generate: the documented sample passes whole, and a value purgewatch would refuse at start is
// refused by helm first, named by its path.
func TestHelmValidatesTheConfig(t *testing.T) {
	sample, err := os.ReadFile(repo("config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	values := filepath.Join(t.TempDir(), "values.yaml")
	indented := "config:\n  " + strings.ReplaceAll(strings.TrimRight(string(sample), "\n"), "\n", "\n  ") + "\n"
	if err := os.WriteFile(values, []byte(indented), 0o600); err != nil {
		t.Fatal(err)
	}
	r := render(t, values)
	if _, err := config.Parse("config.yaml", []byte(r.configMaps["pw-purgewatch"].Data["config.yaml"]), os.LookupEnv); err != nil {
		t.Errorf("the sample, through the chart, is refused by purgewatch: %v", err)
	}

	bin := testtool.Require(t, "helm")
	for set, want := range map[string]string{
		"config.azure.auth=magic":                    "at '/config/azure/auth': value must be one of 'default'",
		"config.azure.concurrency=0":                 "at '/config/azure/concurrency': minimum",
		"config.scan.timeout=10 minutes":             "at '/config/scan/timeout'",
		"config.log.format=xml":                      "at '/config/log/format'",
		"config.notify.channels[0].type=pager":       "at '/config/notify/channels/0'",
		"config.azure.subscription=one":              "at '/config/azure': additional properties 'subscription' not allowed",
		"config.notify.channels[0].smtp.port=100000": "at '/config/notify/channels/0",
	} {
		out, err := exec.Command(bin, "template", "pw", chart, "--set", set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("--set %s: %v, want an error with %q:\n%s", set, err, want, out)
		}
	}
}

// The rules are tunable as x509-certificate-exporter's chart's are: alerts left out by name,
// labels added to every alert (a rule's own win), groups of one's own added.
func TestHelmRulesAreTunable(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte(`prometheusRule:
  enabled: true
  disabled: [PurgewatchGallerySoftDeleteOff]
  additionalRuleLabels: {team: platform, severity: page}
  extraGroups:
    - name: mine
      rules:
        - alert: PurgeWithinAWeek
          expr: purgewatch_soft_deleted_version_purge_timestamp_seconds - time() < 7 * 86400
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := render(t, values)
	alerts := map[string]monitoringv1.Rule{}
	for _, g := range r.rule.Spec.Groups {
		for _, rule := range g.Rules {
			alerts[rule.Alert] = rule
		}
	}
	if _, ok := alerts["PurgewatchGallerySoftDeleteOff"]; ok {
		t.Error("a disabled alert is still rendered")
	}
	if len(alerts) != 18 { // 18 less the disabled one, plus one's own
		t.Errorf("%d alerts rendered, want 18", len(alerts))
	}
	for name, rule := range alerts {
		if name != "PurgeWithinAWeek" && (rule.Labels["team"] != "platform" || rule.Labels["severity"] == "page") {
			t.Errorf("%s labels %v: want team added and its own severity kept", name, rule.Labels)
		}
	}
	if _, ok := alerts["PurgeWithinAWeek"]; !ok {
		t.Error("the extra group is not rendered")
	}
	helm(t, "lint", "--strict", chart, "-f", values)
}

// TestHelmRefusesWorkloadIdentityWithoutAClientID: the default (workload identity on) with no
// client id would start a pod that cannot sign in; the install is refused, saying what to set.
func TestHelmRefusesWorkloadIdentityWithoutAClientID(t *testing.T) {
	bin := testtool.Require(t, "helm")
	out, err := exec.Command(bin, "template", "pw", chart).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "serviceAccount.workloadIdentity.clientId is empty") || !strings.Contains(string(out), "az identity show") {
		t.Errorf("installed with an empty client id:\n%s", out)
	}
	if _, err := exec.Command(bin, "template", "pw", chart, "--set", "serviceAccount.workloadIdentity.enabled=false", "--set", "config.azure.auth=managed-identity").CombinedOutput(); err != nil {
		t.Errorf("refused without workload identity: %v", err)
	}
}

// TestHelmAsASubchartAndPinned: global values are accepted (a parent chart passes them), a digest
// pins the image over the tag, extraArgs reach purgewatch, and commonLabels reach every object.
func TestHelmAsASubchartAndPinned(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	r := render(t, "--set=global.imageRegistry=registry.example.com", "--set=image.digest="+digest,
		"--set=extraArgs[0]=--log.format=logfmt", "--set=commonLabels.team=images", "--set=prometheusRule.enabled=true")
	c := r.deployment.Spec.Template.Spec.Containers[0]
	if c.Image != "ghcr.io/purgewatch/purgewatch@"+digest {
		t.Errorf("image = %s, want the digest", c.Image)
	}
	if got := strings.Join(c.Args, " "); !strings.HasSuffix(got, " --log.format=logfmt") {
		t.Errorf("args = %s", got)
	}
	objects := map[string]map[string]string{"Deployment": r.deployment.Labels, "pod": r.deployment.Spec.Template.Labels,
		"ServiceAccount": r.serviceAccount.Labels, "Service": r.service.Labels, "PrometheusRule": r.rule.Labels}
	for name, cm := range r.configMaps {
		objects[name] = cm.Labels
	}
	for kind, labels := range objects {
		if labels["team"] != "images" {
			t.Errorf("%s lacks commonLabels: %v", kind, labels)
		}
	}
	if r := render(t); !strings.HasSuffix(r.deployment.Spec.Template.Spec.Containers[0].Image, ":0.1.0") {
		t.Errorf("the default image is not the chart's appVersion: %s", r.deployment.Spec.Template.Spec.Containers[0].Image)
	}
}

// TestHelmRulesJoinTheConfiguredTags: the rules' join carries the tags config.metrics.tagLabels
// names, as purgewatch exports them (cost-center becomes tag_cost_center).
func TestHelmRulesJoinTheConfiguredTags(t *testing.T) {
	r := render(t, "--set=prometheusRule.enabled=true", "--set=config.metrics.tagLabels={owner,cost-center}")
	joined := 0
	for _, g := range r.rule.Spec.Groups {
		for _, rule := range g.Rules {
			expr := rule.Expr.String()
			if strings.Contains(expr, "group_left(tag_owner, tag_team)") {
				t.Errorf("%s still joins the default tags", rule.Alert)
			}
			if strings.Contains(expr, "group_left(tag_owner, tag_cost_center)") {
				joined++
			}
		}
	}
	if joined != 7 {
		t.Errorf("%d rules join the configured tags, want the 7 version rules", joined)
	}
}

// TestHelmRunsReplicasOnlyWithHA: more than one replica is refused without ha, saying what to
// set; with it, the pods roll one at a time, prefer distinct nodes, and a PodDisruptionBudget keeps
// one through a drain.
func TestHelmRunsReplicasOnlyWithHA(t *testing.T) {
	bin := testtool.Require(t, "helm")
	out, err := exec.Command(bin, "template", "pw", chart, "--set", "serviceAccount.workloadIdentity.clientId="+testClientID, "--set", "replicaCount=2").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "replicaCount 2 needs config.ha.backend: azure-blob") {
		t.Errorf("two replicas without ha were accepted:\n%s", out)
	}
	if one := render(t); one.pdb != nil || one.deployment.Spec.Strategy.Type != "Recreate" || one.deployment.Spec.Template.Spec.Affinity != nil {
		t.Errorf("one replica: a PDB %v, strategy %s, affinity %v; none, Recreate, none", one.pdb != nil, one.deployment.Spec.Strategy.Type, one.deployment.Spec.Template.Spec.Affinity)
	}
	values := filepath.Join(t.TempDir(), "ha.yaml")
	if err := os.WriteFile(values, []byte(`replicaCount: 2
config:
  notify:
    channels: [{name: ops, type: webhook, url: "https://hooks.example.com/purgewatch"}]
  ha:
    backend: azure-blob
    azureBlob: {serviceURL: "https://pwstate.blob.core.windows.net/", container: purgewatch, auth: workload-identity}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := render(t, values)
	d := r.deployment
	if *d.Spec.Replicas != 2 || d.Spec.Strategy.Type != "RollingUpdate" || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("two replicas with ha: %d replicas, strategy %+v; 2, rolling one at a time", *d.Spec.Replicas, d.Spec.Strategy)
	}
	aa := d.Spec.Template.Spec.Affinity
	if aa == nil || aa.PodAntiAffinity == nil || len(aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("no anti-affinity across nodes: %+v", aa)
	}
	if r.pdb == nil || r.pdb.Spec.MinAvailable.IntValue() != 1 || r.pdb.Spec.Selector.MatchLabels["app.kubernetes.io/name"] == "" {
		t.Errorf("the PodDisruptionBudget: %+v", r.pdb)
	}
	if !strings.Contains(r.configMaps["pw-purgewatch"].Data["config.yaml"], "backend: azure-blob") {
		t.Error("the config lacks the ha section")
	}
}
