package helm_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/yaml"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Options{CRDPaths: []string{}})) }

// helmLabels are the labels the chart adds to what config/ has; nothing else may differ.
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"}

// helm builds (or reuses) the pinned helm from hack/helm into the cache.
func helm(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(root, "hack", "helm", "build.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/helm/build.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// objects parses a YAML stream into objects keyed by kind/namespace/name.
func objects(t *testing.T, stream string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, doc := range strings.Split("\n"+stream, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("parse rendered YAML: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		md, _ := m["metadata"].(map[string]any)
		key := fmt.Sprintf("%v/%v/%v", m["kind"], md["namespace"], md["name"])
		if _, dup := out[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		out[key] = m
	}
	return out
}

func keys(m map[string]map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func serverVersion(t *testing.T, env *testenv.Env) string {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatalf("the API server's version: %v", err)
	}
	return v.GitVersion
}

// render runs helm template with the chart's CRDs and the control plane's Kubernetes version.
func render(t *testing.T, env *testenv.Env, args ...string) map[string]map[string]any {
	t.Helper()
	version := serverVersion(t, env)
	base := []string{"template", "calico-node-status", filepath.Join(env.RepoRoot, "charts", "calico-node-status"), "--include-crds", "--kube-version", version}
	return objects(t, run(t, "", helm(t, env.RepoRoot), append(base, args...)...))
}

// TestHelm_DefaultValuesRenderConfigObjects: the chart with its default values renders exactly the objects
// `kubectl kustomize config/` builds, field for field, apart from Helm's own labels.
func TestHelm_DefaultValuesRenderConfigObjects(t *testing.T) {
	env := testenv.Shared(t)
	chart := render(t, env)
	stripHelmLabels(t, chart)
	config := objects(t, run(t, "", filepath.Join(env.BinDir, "kubectl"), "kustomize", filepath.Join(env.RepoRoot, "config")))
	if diff := cmp.Diff(keys(config), keys(chart)); diff != "" {
		t.Fatalf("objects of config/ (-) and of the chart (+) differ:\n%s", diff)
	}
	for k, want := range config {
		if diff := cmp.Diff(want, chart[k]); diff != "" {
			t.Errorf("%s: config/ (-) and the chart (+) differ:\n%s", k, diff)
		}
	}
}

// stripHelmLabels removes Helm's own labels from objs, failing the test for an object (but the CRD) without
// one of them.
func stripHelmLabels(t *testing.T, objs map[string]map[string]any) {
	t.Helper()
	for _, o := range objs {
		md := o["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		for _, l := range helmLabels {
			if _, ok := labels[l]; !ok && o["kind"] != "CustomResourceDefinition" {
				t.Errorf("%v %v has no %s label", o["kind"], md["name"], l)
			}
			delete(labels, l)
		}
	}
}

// TestHelm_EnsureOwnObjectRBACMatchesConfig: with ensureOwnObject the chart adds exactly the objects of
// config/rbac/ensure-own-object (its role generated from internal/agent/ownobject's marker), field for field.
func TestHelm_EnsureOwnObjectRBACMatchesConfig(t *testing.T) {
	env := testenv.Shared(t)
	chart := render(t, env, "--set", "ensureOwnObject=true")
	stripHelmLabels(t, chart)
	config := objects(t, run(t, "", filepath.Join(env.BinDir, "kubectl"), "kustomize", filepath.Join(env.RepoRoot, "config", "rbac", "ensure-own-object")))
	if len(config) != 2 {
		t.Fatalf("config/rbac/ensure-own-object has %v, want a ClusterRole and its binding", keys(config))
	}
	for k, want := range config {
		if diff := cmp.Diff(want, chart[k]); diff != "" {
			t.Errorf("%s: config/rbac/ensure-own-object (-) and the chart (+) differ:\n%s", k, diff)
		}
	}
}

func daemonSet(t *testing.T, objs map[string]map[string]any) (*appsv1.DaemonSet, *corev1.Container) {
	t.Helper()
	var ds appsv1.DaemonSet
	for _, o := range objs {
		if o["kind"] == "DaemonSet" {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o, &ds); err != nil {
				t.Fatal(err)
			}
			return &ds, &ds.Spec.Template.Spec.Containers[0]
		}
	}
	t.Fatal("no DaemonSet rendered")
	return nil, nil
}

// TestHelm_ValuesChangeWhatTheySay renders the chart with every value changed and checks each shows up
// where it should.
func TestHelm_ValuesChangeWhatTheySay(t *testing.T) {
	env := testenv.Shared(t)
	objs := render(t, env,
		"--set", "namespace.name=cns-other",
		"--set", "image.repository=registry.example/agent", "--set", "image.tag=v1.2.3", "--set", "image.pullPolicy=Always",
		"--set", "bird.calicoRunDir=/run/calico-elsewhere", "--set", "bird.birdRunDir=/run/bird-elsewhere",
		"--set", "bird.socket=/var/run/bird/bird.ctl", "--set", "bird.socket6=/var/run/bird/bird.ctl",
		"--set", "capabilities.add={NET_ADMIN}",
		"--set", "resources.limits.memory=128Mi",
		"--set", "tolerations=null",
		"--set", "priorityClass.create=false", "--set", "priorityClass.name=system-node-critical",
		"--set", "metrics.port=19496", "--set", "health.port=19497",
		"--set", "apiServer.host=10.0.0.10", "--set", "apiServer.port=6443",
		"--set", "extraArgs={--max-routes-per-family=2000}",
		"--set", "nodeIsolation.enabled=false",
		"--set", "ensureOwnObject=true", "--set", "apiPriorityAndFairness.enabled=false",
		"--set", "monitoring.prometheusRule.enabled=true", "--set", "monitoring.grafanaDashboard.enabled=true",
	)
	ds, c := daemonSet(t, objs)
	pod := ds.Spec.Template.Spec
	hostPathAt := map[string]string{} // mount path in the container -> host path
	for _, v := range pod.Volumes {
		for _, m := range c.VolumeMounts {
			if v.HostPath != nil && m.Name == v.Name {
				hostPathAt[m.MountPath] = v.HostPath.Path
			}
		}
	}
	args := strings.Join(c.Args, " ")
	checks := []struct {
		what string
		ok   bool
	}{
		{"namespace", ds.Namespace == "cns-other" && objs["Namespace/<nil>/cns-other"] != nil && objs["ServiceAccount/cns-other/calico-node-status-agent"] != nil},
		{"image", c.Image == "registry.example/agent:v1.2.3" && c.ImagePullPolicy == corev1.PullAlways},
		{"socket directories", len(hostPathAt) == 2 && hostPathAt["/var/run/calico"] == "/run/calico-elsewhere" && hostPathAt["/var/run/bird"] == "/run/bird-elsewhere"},
		{"sockets", strings.Contains(args, "--bird-socket=/var/run/bird/bird.ctl") && strings.Contains(args, "--bird6-socket=/var/run/bird/bird.ctl")},
		{"capabilities", c.SecurityContext.Capabilities != nil && len(c.SecurityContext.Capabilities.Add) == 1 && c.SecurityContext.Capabilities.Add[0] == "NET_ADMIN"},
		{"resources", c.Resources.Limits.Memory().String() == "128Mi"},
		{"tolerations", len(pod.Tolerations) == 0},
		{"priority class", pod.PriorityClassName == "system-node-critical" && objs["PriorityClass/<nil>/calico-node-status-agent"] == nil},
		{"metrics and health ports", strings.Contains(args, "--metrics-bind-address=:19496") && strings.Contains(args, "--health-probe-bind-address=:19497") &&
			c.Ports[0].ContainerPort == 19496 && c.Ports[1].ContainerPort == 19497},
		{"API server endpoint ConfigMap", objs["ConfigMap/cns-other/kubernetes-services-endpoint"] != nil},
		{"extra args", strings.Contains(args, "--max-routes-per-family=2000")},
		{"node isolation off", objs["ValidatingAdmissionPolicy/<nil>/calico-node-status-node-isolation"] == nil},
		{"ensure own object: flag and create RBAC", strings.Contains(args, "--ensure-own-object") &&
			objs["ClusterRole/<nil>/calico-node-status-agent-ensure-own-object"] != nil &&
			objs["ClusterRoleBinding/<nil>/calico-node-status-agent-ensure-own-object"] != nil},
		{"PrometheusRule", objs["PrometheusRule/cns-other/calico-node-status"] != nil},
		{"API Priority and Fairness off", objs["FlowSchema/<nil>/calico-node-status-agent"] == nil &&
			objs["PriorityLevelConfiguration/<nil>/calico-node-status-agent"] == nil},
		{"Grafana dashboard ConfigMap", objs["ConfigMap/cns-other/calico-node-status-grafana-dashboard"] != nil},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("value for %s not applied; DaemonSet:\n%+v", ch.what, pod)
		}
	}
}

// TestHelm_SocketMustBeAContainerPath: a socket value that is not a path in the container (a bare name, as
// in a socket directory) is refused at render time rather than passed to the agent as a relative path.
func TestHelm_SocketMustBeAContainerPath(t *testing.T) {
	env := testenv.Shared(t)
	for _, value := range []string{"bird.socket", "bird.socket6"} {
		cmd := exec.Command(helm(t, env.RepoRoot), "template", "calico-node-status", filepath.Join(env.RepoRoot, "charts", "calico-node-status"),
			"--kube-version", serverVersion(t, env), "--set", value+"=bird.ctl")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), value+" must be a path in the agent's container") {
			t.Errorf("%s=bird.ctl: %v, want the chart to refuse it:\n%s", value, err, out)
		}
	}
}

// TestHelm_InstallServerDryRunUpgrade: helm installs the chart for real, the API server accepts every
// rendered object (server-side dry run), and helm upgrades it.
func TestHelm_InstallServerDryRunUpgrade(t *testing.T) {
	env := testenv.Shared(t)
	kubectl := filepath.Join(env.BinDir, "kubectl")
	h := helm(t, env.RepoRoot)
	chartDir := filepath.Join(env.RepoRoot, "charts", "calico-node-status")
	version := serverVersion(t, env)
	rendered := run(t, "", h, "template", "calico-node-status", chartDir, "--include-crds", "--kube-version", version)
	objs := objects(t, rendered)

	// helm installs it for real (the CRD from crds/, then the templates), into a release namespace of its
	// own: the chart creates the agent's namespace itself.
	kc := []string{"--kubeconfig", env.Kubeconfig}
	run(t, "", h, append([]string{"install", "calico-node-status", chartDir, "--namespace", "default", "--wait=false"}, kc...)...)
	// Every rendered object passes the API server's validation and admission (server-side dry run). After the
	// install, because a dry run creates nothing and the namespaced objects need their namespace.
	out := run(t, rendered, kubectl, "--kubeconfig", env.Kubeconfig, "apply", "--dry-run=server", "-f", "-")
	for k := range objs {
		name := strings.SplitN(k, "/", 3)[2]
		if !regexp.MustCompile(`(?m)/` + regexp.QuoteMeta(name) + ` (created|configured|unchanged) \(server dry run\)$`).MatchString(out) {
			t.Errorf("server dry run did not accept %s:\n%s", k, out)
		}
	}
	got := run(t, "", kubectl, "--kubeconfig", env.Kubeconfig, "-n", "calico-node-status", "get", "daemonset", "calico-node-status-agent", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if got != "ghcr.io/calico-node-status/calico-node-status-agent:latest" {
		t.Errorf("installed DaemonSet image %q", got)
	}
	run(t, "", h, append([]string{"upgrade", "calico-node-status", chartDir, "--namespace", "default", "--set", "image.tag=v9.9.9"}, kc...)...)
	got = run(t, "", kubectl, "--kubeconfig", env.Kubeconfig, "-n", "calico-node-status", "get", "daemonset", "calico-node-status-agent", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if got != "ghcr.io/calico-node-status/calico-node-status-agent:v9.9.9" {
		t.Errorf("upgraded DaemonSet image %q, want tag v9.9.9", got)
	}
	crd := run(t, "", kubectl, "--kubeconfig", env.Kubeconfig, "get", "crd", "caliconodestatuses.projectcalico.org", "-o", "jsonpath={.spec.names.categories}")
	if !strings.Contains(crd, "calico") {
		t.Errorf("the chart's CRD has categories %s, want calico", crd)
	}
}

// TestHelm_MonitoringMatchesConfigMonitoring: with monitoring enabled the chart's PrometheusRule and Grafana
// dashboard ConfigMap say what config/monitoring says (the rules promtool checks and unit-tests there).
func TestHelm_MonitoringMatchesConfigMonitoring(t *testing.T) {
	env := testenv.Shared(t)
	chart := render(t, env, "--set", "monitoring.prometheusRule.enabled=true", "--set", "monitoring.grafanaDashboard.enabled=true")
	config := objects(t, run(t, "", filepath.Join(env.BinDir, "kubectl"), "kustomize", filepath.Join(env.RepoRoot, "config", "monitoring")))
	for key, field := range map[string]string{
		"PrometheusRule/calico-node-status/calico-node-status":              "spec",
		"ConfigMap/calico-node-status/calico-node-status-grafana-dashboard": "data",
	} {
		want, got := config[key], chart[key]
		if want == nil || got == nil {
			t.Fatalf("%s: in config/monitoring %v, in the chart %v", key, want != nil, got != nil)
		}
		if diff := cmp.Diff(want[field], got[field]); diff != "" {
			t.Errorf("%s %s: config/monitoring (-) and the chart (+) differ:\n%s", key, field, diff)
		}
	}
	if l := chart["ConfigMap/calico-node-status/calico-node-status-grafana-dashboard"]["metadata"].(map[string]any)["labels"].(map[string]any); l["grafana_dashboard"] != "1" {
		t.Errorf("the dashboard ConfigMap lacks grafana_dashboard=1: %v", l)
	}
}
