package node_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	testprereq "github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
	"github.com/calico-node-status/calico-node-status/internal/testimage"
)

const (
	namespace = "calico-node-status"
	dsName    = "calico-node-status-agent"
	// The objects' period: the rolling update must not leave a status stale for longer.
	period = 15
)

// TestNode_DaemonSetOnARealNode applies config/ to a single-node cluster whose kubelet runs the agent's
// image (built by hack/image, imported into containerd) on a lab node's BIRD, and checks what only a real
// node shows: the pod becomes Ready through its own probes, its Pod-bound token carries the node, the
// isolation policy allows that node and refuses another, the status is written, /metrics answers on the
// pod's port, containerd applies the DaemonSet's securityContext (RuntimeDefault seccomp included),
// a rolling update to a new image leaves no status stale for more than a period, the status names the
// agent's Pod (downward API) and the CLI calls it current while that Pod is Ready and STALE once it is gone.
func TestNode_DaemonSetOnARealNode(t *testing.T) {
	testprereq.Root(t)
	lab.Prereqs(t)
	testimage.LockHostPorts(t) // test/image's runtime test runs the agent on the same host ports
	v2, layout := cgroupLayout()
	t.Logf("machine: %s, kernel %s", layout, kernelRelease())
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}

	// Images: the sandbox, and two builds of the agent for the rolling update (same binary, another label,
	// so another image), imported into containerd as the README's Deploy section says.
	imgDir := t.TempDir()
	host := []string{"linux/" + runtime.GOARCH}
	build := func(o testimage.Options) *testimage.Built {
		if o.Platforms == nil {
			o.Platforms = host
		}
		o.Out = filepath.Join(imgDir, o.Tag)
		b, err := testimage.Build(root, o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pause := build(testimage.Options{Pause: true, Name: "localhost/cns-pause", Tag: "node-test"})
	// The first as make image builds it, every platform in one archive (the README's import takes this
	// machine's); the second for this machine only.
	imgA := build(testimage.Options{Tag: "node-test-a", Labels: []string{"io.calico-node-status.test=a"}, Platforms: []string{"linux/amd64", "linux/arm64"}})
	imgB := build(testimage.Options{Tag: "node-test-b", Labels: []string{"io.calico-node-status.test=b"}})
	if imgA.Digest == imgB.Digest {
		t.Fatal("the two agent images have the same digest: the rolling update would change nothing")
	}

	c := startCluster(t, pause)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, img := range []*testimage.Built{imgA, imgB} {
		if err := c.importImage(ctx, img); err != nil {
			t.Fatalf("import %s: %v", img.Reference, err)
		}
	}
	lb := lab.Start(t, lab.Options{Name: "cnsnode", Nodes: 1})
	labNode := lb.Nodes[0]

	if err := c.startKubelet(t); err != nil {
		// Only the machine can make this fail with the binaries and packages in place: say exactly why.
		what := "a kubelet on this machine (" + layout + "): " + err.Error()
		if !v2 {
			what += "\n(the kubelet runs with failCgroupV1: false, the only setting that lets it start on cgroup v1)"
		}
		// A kubelet refusing this kernel's cgroups, swap or privileges is the machine's limit, reported and
		// skipped even under CI; anything else is a failure to look into.
		if testprereq.InCI() && !machineLimit.MatchString(err.Error()) {
			t.Fatalf("the kubelet failed for a reason that is not a known limit of the machine: %s", what)
		}
		t.Skipf("impossible on this machine, not a missing package: %s", what)
	}
	env := c.env
	admin, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}

	// Objects of this node and of another, before the agent starts.
	own := newCNS("node-own", nodeName)
	other := newCNS("node-other", "cnsother")
	for _, o := range []*v3.CalicoNodeStatus{own, other} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	// config/ as a user applies it, with the image imported into containerd and BIRD's run directory where
	// the lab node keeps it, plus the API server's address for the host network (no kube-proxy here).
	objs := renderConfig(t, env, imgA.Reference, filepath.Dir(labNode.Socket4))
	applyObjects(t, env, objs)
	u, _ := url.Parse(env.Config.Host)
	apiHost, apiPort, _ := net.SplitHostPort(u.Host)
	if _, err := admin.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes-services-endpoint", Namespace: namespace},
		Data:       map[string]string{"KUBERNETES_SERVICE_HOST": apiHost, "KUBERNETES_SERVICE_PORT": apiPort},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Before the kubelet stops: remove the workload so the kubelet itself stops its containers.
	t.Cleanup(func() { deleteDaemonSet(t, admin) })

	pod := waitPodReady(t, admin, imgA.Reference, "", 3*time.Minute, c)
	t.Logf("pod %s Ready on %s (host IP %s) with %s", pod.Name, pod.Spec.NodeName, pod.Status.HostIP, imgA.Reference)

	t.Run("ready through its probes", func(t *testing.T) {
		cs := pod.Status.ContainerStatuses[0]
		if !cs.Ready || cs.RestartCount != 0 || cs.State.Running == nil {
			t.Errorf("container status %+v: want running, ready, never restarted", cs)
		}
		ctr := pod.Spec.Containers[0]
		if ctr.ReadinessProbe == nil || ctr.LivenessProbe == nil {
			t.Fatal("the pod has no probes: Ready would not mean the agent answered")
		}
		if ctr.Image != imgA.Reference || pod.Spec.PriorityClassName == "" || pod.Spec.Priority == nil || *pod.Spec.Priority == 0 {
			t.Errorf("pod image %s priority class %q priority %v: want %s and the DaemonSet's priority class resolved", ctr.Image, pod.Spec.PriorityClassName, pod.Spec.Priority, imgA.Reference)
		}
	})

	t.Run("the status is written from the node's BIRD", func(t *testing.T) {
		got := waitReadyStatus(t, env, own.Name, 0, 90*time.Second)
		testenv.CheckLabNodeStatus(t, got, labNode.IP4)
		// The downward API gave the agent its Pod: recorded as the freshness signal, so no heartbeat.
		want := v3.StatusReporter{Pod: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)}
		if rep := got.Status.Reporter; rep == nil || *rep != want {
			t.Errorf("status.reporter = %+v, want %+v (the agent's Pod, no heartbeat)", rep, want)
		}
	})

	t.Run("Pod-bound token carries the node; isolation allows it and refuses another node", func(t *testing.T) {
		token := podToken(t, c, pod)
		claims := jwtClaims(t, token)
		if claims.K8s.Node.Name != nodeName || claims.K8s.Pod.Name != pod.Name || claims.K8s.Pod.UID != string(pod.UID) {
			t.Fatalf("token claims %+v: want node %s, pod %s/%s", claims.K8s, nodeName, pod.Name, pod.UID)
		}
		cfg := rest.AnonymousClientConfig(env.Config)
		cfg.BearerToken = token
		typed, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		who, err := typed.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := who.Status.UserInfo.Extra["authentication.kubernetes.io/node-name"]; len(n) != 1 || n[0] != nodeName {
			t.Errorf("the API server sees the pod's token with node-name %v, want [%s]", n, nodeName)
		}
		cl, err := client.New(cfg, client.Options{Scheme: env.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		// A PUT of the status subresource, as the agent writes (its role has no patch), after a fresh read.
		put := func(name string) error {
			var o v3.CalicoNodeStatus
			if err := cl.Get(ctx, client.ObjectKey{Name: name}, &o); err != nil {
				return err
			}
			o.Status.LastUpdated = metav1.Now()
			return cl.Status().Update(ctx, &o, client.DryRunAll)
		}
		testenv.Eventually(t, 30*time.Second, "the agent's token writing its own node's status (server dry run)", func() (bool, error) {
			err := put(own.Name)
			return err == nil, err // a 409 (the agent wrote meanwhile) is tried again
		})
		// The API server enforces a policy applied moments ago once it has loaded it (and the CRD's
		// schema it is checked against): wait for the refusal rather than take the first answer.
		testenv.Eventually(t, 30*time.Second, "the agent's token refused writing another node's status (403 from the node isolation policy)", func() (bool, error) {
			err := put(other.Name)
			if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "may not write CalicoNodeStatus node-other, which belongs to node cnsother") {
				return true, nil
			}
			return false, fmt.Errorf("got %v", err)
		})
	})

	t.Run("metrics on the pod's port", func(t *testing.T) {
		var port int32
		for _, p := range pod.Spec.Containers[0].Ports {
			if p.Name == "metrics" {
				port = p.ContainerPort
			}
		}
		body, err := testenv.HTTPGet(fmt.Sprintf("http://%s/metrics", net.JoinHostPort(pod.Status.PodIP, fmt.Sprint(port))))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`calico_node_status_build_info{commit="`, `calico_node_status_bird_up{family="IPv4"} 1`} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics on %s:%d has no %q", pod.Status.PodIP, port, want)
			}
		}
	})

	t.Run("containerd applies the securityContext", func(t *testing.T) {
		pid := agentPID(t, pod)
		st, err := procstat.StatusFields(pid)
		if err != nil {
			t.Fatal(err)
		}
		checks := map[string]string{"NoNewPrivs": "1", "CapEff": "0000000000000000", "CapBnd": "0000000000000000", "Seccomp": "2"}
		for k, want := range checks {
			if st[k] != want {
				t.Errorf("agent process %d: %s = %q, want %q", pid, k, st[k], want)
			}
		}
		if f := strings.Fields(st["Uid"]); len(f) < 2 || f[0] != "65532" || f[1] != "65532" {
			t.Errorf("agent process uid %q, want 65532", st["Uid"])
		}
		if !strings.Contains(" "+st["Groups"]+" ", " 0 ") {
			t.Errorf("agent process groups %q: want the supplemental group 0", st["Groups"])
		}
	})

	t.Run("rolling update to a new image leaves no status stale for more than a period", func(t *testing.T) {
		rollingUpdate(t, c, admin, pod, own, imgB, labNode)
	})
	t.Run("the CLI's freshness follows the agent Pod: READY while Ready, STALE once gone", func(t *testing.T) {
		cliFreshness(t, env, admin, own.Name)
	})
	if !v2 {
		t.Logf("cgroup v1: the kubelet ran with failCgroupV1: false (deprecated in Kubernetes; kubelets refuse cgroup v1 by default since 1.35)")
	}
}

// machineLimit matches the kubelet's words for what a machine may lack.
var machineLimit = regexp.MustCompile(`(?i)cgroup|kernel|swap|operation not permitted|permission denied|not supported`)

func kernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func newCNS(name, node string) *v3.CalicoNodeStatus {
	return &v3.CalicoNodeStatus{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.CalicoNodeStatusSpec{Node: node, UpdatePeriodSeconds: new(int32(period)),
			Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}},
	}
}

// renderConfig renders config/ with kubectl kustomize and sets what a user sets for this cluster: the
// agent's image (kustomize edit set image) and BIRD's run directory (a patch of the /var/run/calico
// hostPath: the lab node's BIRD plays calico-node's). The /var/run/bird hostPath (a BIRD installed on the
// host) becomes an empty directory of the test's, so the node test neither creates /var/run/bird on this
// machine nor reads a BIRD that happens to run there; test/image covers the agent's fallback to it.
func renderConfig(t *testing.T, env *testenv.Env, image, birdDir string) []unstructured.Unstructured {
	t.Helper()
	// Not t.TempDir(): the kubelet's bind mount must be readable by the agent's uid 65532 like /var/run/bird.
	noHostBird, err := os.MkdirTemp("", "cns-node-no-host-bird-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(noHostBird) })
	if err := os.Chmod(noHostBird, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := env.Kubectl(context.Background(), "", "kustomize", filepath.Join(env.RepoRoot, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var objs []unstructured.Unstructured
	for _, doc := range strings.Split(out, "\n---\n") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetKind() == "DaemonSet" {
			var ds appsv1.DaemonSet
			if err := runtimeConvert(u.Object, &ds); err != nil {
				t.Fatal(err)
			}
			ds.Spec.Template.Spec.Containers[0].Image = image
			found := map[string]bool{}
			for i, v := range ds.Spec.Template.Spec.Volumes {
				if v.HostPath == nil {
					continue
				}
				found[v.HostPath.Path] = true
				switch v.HostPath.Path {
				case "/var/run/calico":
					ds.Spec.Template.Spec.Volumes[i].HostPath.Path = birdDir
				case "/var/run/bird":
					ds.Spec.Template.Spec.Volumes[i].HostPath.Path = noHostBird
				default:
					t.Fatalf("the DaemonSet mounts the host's %s, which this test does not know how to provide", v.HostPath.Path)
				}
			}
			if !found["/var/run/calico"] || !found["/var/run/bird"] {
				t.Fatalf("the DaemonSet's hostPath volumes %v: want /var/run/calico and /var/run/bird", found)
			}
			m, err := toUnstructured(&ds)
			if err != nil {
				t.Fatal(err)
			}
			u.Object = m
		}
		objs = append(objs, u)
	}
	return objs
}

func applyObjects(t *testing.T, env *testenv.Env, objs []unstructured.Unstructured) {
	t.Helper()
	var docs []string
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	if out, err := env.Kubectl(context.Background(), strings.Join(docs, "---\n"), "apply", "-f", "-"); err != nil {
		t.Fatalf("apply config/: %v\n%s", err, out)
	}
}

func deleteDaemonSet(t *testing.T, admin kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = admin.AppsV1().DaemonSets(namespace).Delete(ctx, dsName, metav1.DeleteOptions{})
	for ctx.Err() == nil {
		pods, err := admin.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			return
		}
		if err == nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp == nil {
					_ = admin.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("the agent's pods were not gone within a minute of deleting the DaemonSet")
}

// waitPodReady waits for a Ready agent pod with the image that is not the pod notUID.
func waitPodReady(t *testing.T, admin kubernetes.Interface, image string, notUID types.UID, d time.Duration, c *cluster) *corev1.Pod {
	t.Helper()
	var ready *corev1.Pod
	var last string
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c.kubelet.exited() {
			t.Fatalf("the kubelet exited: %v\n%s", c.kubelet.err, c.kubelet.tail(20))
		}
		pods, err := admin.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=agent"})
		if err != nil {
			last = err.Error()
		} else {
			last = ""
			for i, p := range pods.Items {
				last += describePod(&p) + "; "
				if p.UID == notUID || p.DeletionTimestamp != nil || len(p.Spec.Containers) == 0 || p.Spec.Containers[0].Image != image {
					continue
				}
				for _, cd := range p.Status.Conditions {
					if cd.Type == corev1.PodReady && cd.Status == corev1.ConditionTrue {
						ready = &pods.Items[i]
					}
				}
			}
		}
		if ready != nil {
			return ready
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("no Ready agent pod with %s within %s: %s\nkubelet errors:\n%s", image, d, last, strings.Join(c.kubelet.grepLog("\"Error", 10), "\n"))
	return nil
}

func describePod(p *corev1.Pod) string {
	s := fmt.Sprintf("%s node=%q phase=%s", p.Name, p.Spec.NodeName, p.Status.Phase)
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			s += fmt.Sprintf(" waiting %s: %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			s += fmt.Sprintf(" terminated %s (%d): %s", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode, cs.State.Terminated.Message)
		case cs.State.Running != nil:
			s += fmt.Sprintf(" running ready=%v restarts=%d", cs.Ready, cs.RestartCount)
		}
	}
	for _, cd := range p.Status.Conditions {
		if cd.Status != corev1.ConditionTrue && cd.Message != "" {
			s += fmt.Sprintf(" %s=%s (%s)", cd.Type, cd.Status, cd.Message)
		}
	}
	return s
}

// waitReadyStatus waits for the object's status to be Ready with observedGeneration at least gen.
func waitReadyStatus(t *testing.T, env *testenv.Env, name string, gen int64, d time.Duration) *v3.CalicoNodeStatus {
	t.Helper()
	var got v3.CalicoNodeStatus
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &got); err != nil {
			last = err
		} else if ready(&got) && got.Status.ObservedGeneration >= gen {
			return &got
		} else {
			last = fmt.Errorf("observedGeneration %d (want %d), conditions %+v", got.Status.ObservedGeneration, gen, got.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("status of %s not Ready within %s: %v", name, d, last)
	return nil
}

func ready(o *v3.CalicoNodeStatus) bool {
	for _, cd := range o.Status.Conditions {
		if cd.Type == "Ready" {
			return cd.Status == metav1.ConditionTrue
		}
	}
	return false
}

// podToken reads the service-account token the kubelet projected into the pod's volume.
func podToken(t *testing.T, c *cluster, pod *corev1.Pod) string {
	t.Helper()
	var volume string
	for _, v := range pod.Spec.Volumes {
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					volume = filepath.Join(v.Name, s.ServiceAccountToken.Path)
				}
			}
		}
	}
	if volume == "" {
		t.Fatal("the pod has no projected service-account token")
	}
	p := filepath.Join(c.kubeletDir, "pods", string(pod.UID), "volumes", "kubernetes.io~projected", volume)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read the pod's projected token: %v", err)
	}
	return strings.TrimSpace(string(b))
}

type tokenClaims struct {
	K8s struct {
		Node struct{ Name, UID string } `json:"node"`
		Pod  struct{ Name, UID string } `json:"pod"`
	} `json:"kubernetes.io"`
}

func jwtClaims(t *testing.T, token string) tokenClaims {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("the token is not a JWT (%d parts)", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c tokenClaims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// agentPID finds the agent's process by the pod's cgroup (cgroupfs: .../pod<uid>/<container id>).
func agentPID(t *testing.T, pod *corev1.Pod) int {
	t.Helper()
	cid := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil || !strings.Contains(string(cg), cid) {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if strings.HasSuffix(exe, "/calico-node-status-agent") {
			return pid
		}
	}
	t.Fatalf("no calico-node-status-agent process in container %s", cid)
	return 0
}
