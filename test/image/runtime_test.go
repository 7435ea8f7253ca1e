package image_test

// Tier "runtime" (root, runc, a BIRD lab, a real API server): the image `make image` builds, unpacked and
// run by a real OCI runtime with the DaemonSet's user, groups, capabilities, read-only root, host
// network and mounts, reaches a host BIRD through the read-only /var/run/bird (falling back from an empty
// /var/run/calico, as calico-node does) and the API server with a Pod-bound token, and writes the status.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	testprereq "github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
	"github.com/calico-node-status/calico-node-status/internal/testimage"
)

func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

func TestRuntime_AgentImageRunsUnderRuncAsTheDaemonSetRunsIt(t *testing.T) {
	testprereq.Root(t)
	runc := testprereq.Binary(t, "runc", "make prereqs installs Debian's runc")
	lab.Prereqs(t)
	testimage.LockHostPorts(t) // test/node runs the agent on the same host ports
	ds, c := daemonSet(t)
	// Host network: the DaemonSet's ports are the host's, and must be free for this run.
	for _, p := range c.Ports {
		addr := fmt.Sprintf("127.0.0.1:%d", p.ContainerPort)
		if err := portFree(addr); err != nil {
			t.Fatalf("the DaemonSet's port %s (%s) is taken on this host (%v): something else runs on the host network with it", p.Name, addr, err)
		}
	}

	img := agentImage(t)
	platform := "linux/" + runtime.GOARCH
	l := testimage.Layout(img.Layout)
	im, err := l.Image(platform)
	if err != nil {
		t.Fatal(err)
	}

	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		testprereq.Require(t, false, "a real control plane: "+err.Error(), "make controlplane")
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Everything config/ deploys (the DaemonSet object is created too; no kubelet runs it here).
	cfgDir := filepath.Join(env.RepoRoot, "config")
	if _, err := env.Kubectl(ctx, "", "apply", "-f", filepath.Join(cfgDir, "agent", "namespace.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kubectl(ctx, "", "apply", "-k", cfgDir); err != nil {
		t.Fatal(err)
	}

	lb := lab.Start(t, lab.Options{Name: "cnsrunc", Nodes: 1})
	node := lb.Nodes[0]
	// This node runs no calico-node: its /var/run/calico is empty, and the lab node's BIRD plays a BIRD
	// installed on the host, in /var/run/bird. The DaemonSet names no socket, so the agent must fall back to
	// it as calico-node does (test/node covers calico-node's /var/run/calico).
	hostBirdDir := filepath.Dir(node.Socket4)

	admin, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ns := ds.Namespace
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-runc", Namespace: ns},
		Spec:       *ds.Spec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = node.Name
	pod.Spec.Containers[0].Image = im.Digest
	// The Pod only has to exist (no kubelet runs here) for its node to go into a token bound to it.
	if pod, err = admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the agent's Pod object: %v", err)
	}

	// The API server's address, as the kubernetes-services-endpoint ConfigMap gives it to the agent.
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	configMaps := map[string]map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == "kubernetes-services-endpoint" {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ef.ConfigMapRef.Name, Namespace: ns},
				Data: map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}}
			if _, err := admin.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			configMaps[cm.Name] = cm.Data
		}
	}
	if len(configMaps) == 0 {
		t.Fatal("the DaemonSet takes no kubernetes-services-endpoint ConfigMap: the agent would need kube-proxy to reach the API server from the host network")
	}

	// Not t.TempDir(): uid 65532 must traverse the bundle's paths, and t.TempDir's parent is 0700.
	bundle, err := os.MkdirTemp("", "cns-runc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(bundle) })
	if err := os.Chmod(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	emptyCalicoDir := filepath.Join(bundle, "host-var-run-calico")
	if err := os.Mkdir(emptyCalicoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(bundle, "rootfs")
	if err := l.Unpack(im, rootfs); err != nil {
		t.Fatalf("unpack the %s image: %v", platform, err)
	}

	// The projected service-account volume as the kubelet writes it: a token bound to the Pod.
	volumeSource := map[string]string{}
	for _, v := range ds.Spec.Template.Spec.Volumes {
		switch {
		case v.HostPath != nil && v.HostPath.Path == "/var/run/calico":
			volumeSource[v.Name] = emptyCalicoDir
		case v.HostPath != nil && v.HostPath.Path == "/var/run/bird":
			volumeSource[v.Name] = hostBirdDir
		case v.Projected != nil:
			var exp *int64
			var audience []string
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					exp = s.ServiceAccountToken.ExpirationSeconds
					if s.ServiceAccountToken.Audience != "" {
						audience = []string{s.ServiceAccountToken.Audience}
					}
				}
			}
			tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, pod.Spec.ServiceAccountName, &authenticationv1.TokenRequest{
				Spec: authenticationv1.TokenRequestSpec{Audiences: audience, ExpirationSeconds: exp,
					BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("TokenRequest bound to the Pod: %v", err)
			}
			files, err := projectedFiles(v, tr.Status.Token, string(env.Config.CAData), ns)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(bundle, "volumes", v.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for p, data := range files {
				if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			volumeSource[v.Name] = dir
		default:
			t.Fatalf("volume %s: a kind this test does not know how to provide", v.Name)
		}
	}
	for _, d := range []string{filepath.Join(bundle, "volumes")} {
		_ = os.Chmod(d, 0o755)
	}

	id := fmt.Sprintf("cns-runtime-test-%d", os.Getpid())
	spec, unsupported, err := ociConfigFor(ds, c, im, rootfs, podContext{
		nodeName: node.Name, namespace: ns, configMaps: configMaps, volumeSource: volumeSource, cgroupsPath: "/" + id,
		podName: pod.Name, podUID: string(pod.UID), // the Pod its token is bound to
	})
	if err != nil {
		t.Fatalf("runtime configuration from config/agent/daemonset.yaml: %v", err)
	}
	for _, u := range unsupported {
		t.Logf("not applied by runc here: %s", u)
	}
	js, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}

	// The CalicoNodeStatus of the lab node, before the agent starts.
	cns := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "runc-" + node.Name},
		Spec: v3.CalicoNodeStatusSpec{Node: node.Name, Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}, UpdatePeriodSeconds: new(int32(5))}}
	if err := env.Client.Create(ctx, cns); err != nil {
		t.Fatal(err)
	}

	stateDir := filepath.Join(bundle, "runc-state")
	out := &testenv.SyncBuffer{}
	cmd := exec.Command(runc, "--root", stateDir, "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("runc run: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = exec.Command(runc, "--root", stateDir, "kill", id, "KILL").Run()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Errorf("runc run did not return after the container was killed")
		}
		if b, err := exec.Command(runc, "--root", stateDir, "delete", "--force", id).CombinedOutput(); err != nil {
			t.Logf("runc delete: %v: %s", err, b)
		}
		if t.Failed() {
			t.Logf("container output:\n%s", out.String())
		}
	})

	// The container's init is the agent: its credentials are what the DaemonSet asks for.
	var pid int
	testenv.Eventually(t, 30*time.Second, "runc to start the container", func() (bool, error) {
		select {
		case err := <-exited:
			t.Fatalf("runc run exited: %v\n%s", err, out.String())
		default:
		}
		b, err := exec.Command(runc, "--root", stateDir, "state", id).Output()
		if err != nil {
			return false, err
		}
		var st struct {
			Status string `json:"status"`
			Pid    int    `json:"pid"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return false, err
		}
		pid = st.Pid
		return st.Status == "running" && pid > 0, fmt.Errorf("state %s", st.Status)
	})
	status, err := procstat.StatusFields(pid)
	if err != nil {
		t.Fatal(err)
	}
	wantUID := strconv.FormatInt(spec.Process.User.UID, 10)
	t.Run("process credentials", func(t *testing.T) {
		if f := strings.Fields(status["Uid"]); len(f) == 0 || f[0] != wantUID || f[1] != wantUID {
			t.Errorf("Uid %q, want %s", status["Uid"], wantUID)
		}
		if g := strings.Fields(status["Groups"]); len(g) != 1 || g[0] != "0" {
			t.Errorf("supplementary groups %q, want exactly 0 (BIRD's socket group)", status["Groups"])
		}
		for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
			if status[k] != "0000000000000000" {
				t.Errorf("%s = %s, want no capability", k, status[k])
			}
		}
		if status["NoNewPrivs"] != "1" {
			t.Errorf("NoNewPrivs = %s, want 1 (allowPrivilegeEscalation: false)", status["NoNewPrivs"])
		}
		hostNet, _ := os.Readlink("/proc/self/ns/net")
		ctrNet, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if hostNet == "" || hostNet != ctrNet {
			t.Errorf("network namespace %q, host's %q: want the host network", ctrNet, hostNet)
		}
		mounts := mountOptions(t, pid)
		if o := mounts["/"]; !hasOpt(o, "ro") {
			t.Errorf("root file system mounted %q: want read-only", o)
		}
		for _, d := range []string{"/var/run/calico", "/var/run/bird"} {
			if o, ok := mounts[d]; !ok || !hasOpt(o, "ro") {
				t.Errorf("%s mounted %q (present %v): want the host's directory, read-only", d, o, ok)
			}
		}
	})

	// The agent reaches BIRD and the API server, and writes the status.
	var got v3.CalicoNodeStatus
	testenv.Eventually(t, 90*time.Second, "the agent in the container to write a Ready status", func() (bool, error) {
		select {
		case err := <-exited:
			t.Fatalf("the container exited: %v\n%s", err, out.String())
		default:
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cns), &got); err != nil {
			return false, err
		}
		for _, cd := range got.Status.Conditions {
			if cd.Type == "Ready" {
				return cd.Status == metav1.ConditionTrue, fmt.Errorf("Ready=%s %s: %s", cd.Status, cd.Reason, cd.Message)
			}
		}
		return false, fmt.Errorf("no Ready condition yet: %+v", got.Status)
	})
	t.Run("status from the lab's BIRD", func(t *testing.T) { testenv.CheckLabNodeStatus(t, &got, node.IP4) })
	t.Run("status names the Pod the downward API gave", func(t *testing.T) {
		want := v3.StatusReporter{Pod: pod.Name, Namespace: ns, UID: string(pod.UID)}
		if rep := got.Status.Reporter; rep == nil || *rep != want {
			t.Errorf("status.reporter = %+v, want %+v (no heartbeat in a Pod)", rep, want)
		}
	})
	t.Run("metrics and health on the DaemonSet's ports", func(t *testing.T) {
		for _, p := range c.Ports {
			var path, want string
			switch p.Name {
			case "metrics":
				path, want = "/metrics", `calico_node_status_build_info{commit="`
			case "health":
				path, want = "/readyz", "ok"
			default:
				continue
			}
			body, err := testenv.HTTPGet(fmt.Sprintf("http://127.0.0.1:%d%s", p.ContainerPort, path))
			if err != nil || !strings.Contains(body, want) {
				t.Errorf("GET :%d%s: %v, body does not contain %q:\n%.400s", p.ContainerPort, path, err, want, body)
			}
		}
	})
}

// mountOptions returns the per-mount options of the process's mount points (mountinfo field 6).
func mountOptions(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 {
			m[f[4]] = f[5]
		}
	}
	return m
}

func hasOpt(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}
