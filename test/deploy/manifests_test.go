package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// built is config/ rendered by kubectl's kustomize, decoded into unstructured objects.
func built(t *testing.T, env *testenv.Env, dir string) []unstructured.Unstructured {
	t.Helper()
	out, err := env.Kubectl(ctxFor(t, time.Minute), "", "kustomize", filepath.Join(env.RepoRoot, dir))
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(out)), 4096)
	var objs []unstructured.Unstructured
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("decode kustomize output of %s: %v", dir, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs
}

// find returns the one object of a kind in objs, converted to a typed value.
func find[T any](t *testing.T, objs []unstructured.Unstructured, kind string, into *T) *T {
	t.Helper()
	n := 0
	for _, u := range objs {
		if u.GetKind() == kind {
			n++
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
				t.Fatalf("convert %s %s: %v", kind, u.GetName(), err)
			}
		}
	}
	if n != 1 {
		t.Fatalf("config/ has %d objects of kind %s, want 1", n, kind)
	}
	return into
}

func TestConfig_ServerDryRunAcceptsEveryObjectThenApplies(t *testing.T) {
	env := testenv.Shared(t)
	dry, applied := applyConfig(t)
	objs := built(t, env, "config")
	if len(objs) < 8 {
		t.Fatalf("config/ renders %d objects, want at least namespace, CRD, SA, role, binding, DaemonSet, policy, binding", len(objs))
	}
	for _, u := range objs {
		// kubectl prints "<kind>.<group>/<name> <created|configured|unchanged> (server dry run)".
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(strings.ToLower(u.GetKind())) + `(\.[a-z0-9.]+)?/` +
			regexp.QuoteMeta(u.GetName()) + ` (created|configured|unchanged)`)
		if !regexp.MustCompile(re.String() + ` \(server dry run\)$`).MatchString(dry) {
			t.Errorf("server dry run did not accept %s %s:\n%s", u.GetKind(), u.GetName(), dry)
		}
		if !regexp.MustCompile(re.String() + `$`).MatchString(applied) {
			t.Errorf("kubectl apply -k config/ did not apply %s %s:\n%s", u.GetKind(), u.GetName(), applied)
		}
	}
}

func TestConfig_SamplesApplyWithServerDryRun(t *testing.T) {
	env := testenv.Shared(t)
	out, err := env.Kubectl(ctxFor(t, time.Minute), "", "apply", "--dry-run=server", "-k", filepath.Join(env.RepoRoot, "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "caliconodestatus.projectcalico.org/my-caliconodestatus-1 created (server dry run)") {
		t.Errorf("samples not accepted:\n%s", out)
	}
}

// TestConfig_ManifestsAgree checks that the pieces of config/ that name each other agree, and that the
// DaemonSet gives the agent what it needs and no more.
func TestConfig_ManifestsAgree(t *testing.T) {
	env := testenv.Shared(t)
	objs := built(t, env, "config")
	ds := find(t, objs, "DaemonSet", &appsv1.DaemonSet{})
	sa := find(t, objs, "ServiceAccount", &corev1.ServiceAccount{})
	crb := find(t, objs, "ClusterRoleBinding", &rbacv1.ClusterRoleBinding{})
	role := find(t, objs, "ClusterRole", &rbacv1.ClusterRole{})
	vap := find(t, objs, "ValidatingAdmissionPolicy", &admissionregistrationv1.ValidatingAdmissionPolicy{})
	vapb := find(t, objs, "ValidatingAdmissionPolicyBinding", &admissionregistrationv1.ValidatingAdmissionPolicyBinding{})
	pod := ds.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("DaemonSet has %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	arg := func(flag string) string {
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--"+flag+"="); ok {
				return v
			}
		}
		return ""
	}
	port := func(name string) string {
		for _, p := range c.Ports {
			if p.Name == name {
				return fmt.Sprint(p.ContainerPort)
			}
		}
		return "none"
	}
	mountOf := func(volume string) *corev1.VolumeMount {
		for i := range c.VolumeMounts {
			if c.VolumeMounts[i].Name == volume {
				return &c.VolumeMounts[i]
			}
		}
		return nil
	}
	birdRunDirs := agentSocketDirs(t, env)
	var token *corev1.Volume
	hostRun := map[string]*corev1.Volume{} // hostPath volumes by host path
	for i, v := range pod.Volumes {
		if v.HostPath != nil {
			hostRun[v.HostPath.Path] = &pod.Volumes[i]
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					token = &pod.Volumes[i]
				}
			}
		}
	}
	sec := pod.SecurityContext
	checks := []struct {
		what string
		ok   bool
	}{
		{"namespace is " + namespace, ds.Namespace == namespace && sa.Namespace == namespace},
		{"DaemonSet runs as the service account the ClusterRoleBinding binds", pod.ServiceAccountName == sa.Name &&
			len(crb.Subjects) == 1 && crb.Subjects[0].Kind == "ServiceAccount" && crb.Subjects[0].Name == sa.Name && crb.Subjects[0].Namespace == sa.Namespace},
		{"the binding grants the agent's ClusterRole", crb.RoleRef.Kind == "ClusterRole" && crb.RoleRef.Name == role.Name},
		{"the policy matches every service account writing a status, not one name", len(vap.Spec.MatchConditions) == 1 &&
			strings.Contains(vap.Spec.MatchConditions[0].Expression, "request.subResource == 'status'") &&
			!strings.Contains(vap.Spec.MatchConditions[0].Expression, "'"+agentUser+"'")},
		{"the policy is bound with Deny and fails closed", vapb.Spec.PolicyName == vap.Name && len(vapb.Spec.ValidationActions) == 1 &&
			vapb.Spec.ValidationActions[0] == admissionregistrationv1.Deny && vap.Spec.FailurePolicy != nil && *vap.Spec.FailurePolicy == admissionregistrationv1.Fail},
		{"host network", pod.HostNetwork},
		{"NODENAME from the downward API spec.nodeName", hasEnvFromField(c.Env, "NODENAME", "spec.nodeName")},
		{"no BIRD socket flags: the agent tries calico-node's sockets in order", arg("bird-socket") == "" && arg("bird6-socket") == ""},
		{fmt.Sprintf("the directories of the sockets the agent tries (%v) mounted read-only from the host, and no other", birdRunDirs),
			len(hostRun) == len(birdRunDirs) && readOnlyAtSamePath(hostRun, mountOf, birdRunDirs...)},
		{"health probes on the --health-probe-bind-address port", c.LivenessProbe != nil && c.ReadinessProbe != nil &&
			c.LivenessProbe.HTTPGet.Path == "/healthz" && c.ReadinessProbe.HTTPGet.Path == "/readyz" &&
			c.LivenessProbe.HTTPGet.Port.StrVal == "health" && ":"+port("health") == arg("health-probe-bind-address")},
		{"metrics port is --metrics-bind-address", ":"+port("metrics") == arg("metrics-bind-address")},
		{"ports clear of calico-node's Felix (9099) and Typha (9098) on the host network", port("health") != "9099" && port("health") != "9098" && port("metrics") != "9099" && port("metrics") != "9098"},
		{"memory request and limit within 64Mi, CPU request tiny", c.Resources.Requests.Memory().Cmp(resource.MustParse("64Mi")) <= 0 &&
			c.Resources.Limits.Memory().Cmp(resource.MustParse("64Mi")) <= 0 && !c.Resources.Limits.Memory().IsZero() &&
			c.Resources.Requests.Cpu().Cmp(resource.MustParse("50m")) <= 0 && !c.Resources.Requests.Cpu().IsZero()},
		{"non-root with group 0 for BIRD's 0660 sockets", sec != nil && sec.RunAsNonRoot != nil && *sec.RunAsNonRoot &&
			sec.RunAsUser != nil && *sec.RunAsUser != 0 && len(sec.SupplementalGroups) == 1 && sec.SupplementalGroups[0] == 0},
		{"no privilege escalation, no capabilities, read-only root", c.SecurityContext != nil && c.SecurityContext.AllowPrivilegeEscalation != nil &&
			!*c.SecurityContext.AllowPrivilegeEscalation && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem &&
			c.SecurityContext.Capabilities != nil && len(c.SecurityContext.Capabilities.Drop) == 1 && c.SecurityContext.Capabilities.Drop[0] == "ALL"},
		{"tolerates every taint", len(pod.Tolerations) == 1 && pod.Tolerations[0].Operator == corev1.TolerationOpExists && pod.Tolerations[0].Key == ""},
		{"projected service-account token, no automount", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken &&
			token != nil && mountOf(token.Name) != nil && mountOf(token.Name).MountPath == "/var/run/secrets/kubernetes.io/serviceaccount"},
		{"image set by the kustomization", strings.Contains(c.Image, "/calico-node-status-agent:")},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("config/: %s: not so", ch.what)
		}
	}
}

// agentSocketDirs are the directories of the sockets the agent tries when its socket flags are left unset,
// as its own -help says ("left unset, /var/run/calico/bird.ctl then /var/run/bird/bird.ctl"): calico-node's
// BIRD, then a host BIRD.
func agentSocketDirs(t *testing.T, env *testenv.Env) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/calico-node-status-agent", "-help")
	cmd.Dir = env.RepoRoot
	out, err := cmd.CombinedOutput() // -help may exit non-zero; the usage is what counts
	seen := map[string]bool{}
	var dirs []string
	for _, m := range regexp.MustCompile(`left unset, ([^,(]+)`).FindAllStringSubmatch(string(out), -1) {
		for _, sock := range strings.Split(strings.TrimSpace(m[1]), " then ") {
			if d := filepath.Dir(sock); !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("the agent's -help names no sockets it tries (%v):\n%s", err, out)
	}
	return dirs
}

// readOnlyAtSamePath says whether each of dirs is a hostPath volume (created when missing, so a node without
// that BIRD still runs the agent) mounted read-only at the same path in the container.
func readOnlyAtSamePath(hostPaths map[string]*corev1.Volume, mountOf func(string) *corev1.VolumeMount, dirs ...string) bool {
	for _, d := range dirs {
		v := hostPaths[d]
		if v == nil || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate {
			return false
		}
		m := mountOf(v.Name)
		if m == nil || m.MountPath != d || !m.ReadOnly {
			return false
		}
	}
	return true
}

func hasEnvFromField(env []corev1.EnvVar, name, path string) bool {
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == path {
			return true
		}
	}
	return false
}
