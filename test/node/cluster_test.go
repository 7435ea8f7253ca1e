package node_test

// A single-node cluster for the node test, every piece a real binary: kube-apiserver and etcd
// (internal/testenv), kube-controller-manager and kube-scheduler, containerd (Debian's) and a kubelet
// (built by hack/controlplane/build.sh --node from the pinned k8s.io/kubernetes), with a sandbox image
// built here (hack/image --pause). No CNI: the agent's pods use the host network.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
	testprereq "github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
	"github.com/calico-node-status/calico-node-status/internal/testimage"
)

const nodeName = "cnsnode"

// proc is a process the test started; it dies with the test binary (Pdeathsig).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProc(t *testing.T, name, logPath string, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); _ = f.Close(); close(p.done) }()
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits, then SIGKILL.
func (p *proc) stop(t *testing.T, grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grepLog returns the log lines that contain s.
func (p *proc) grepLog(s string, max int) []string {
	f, err := os.Open(p.log)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(out) < max {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// nodeBinaries returns the directory with the control plane and node binaries, building the node ones
// (kubelet, kube-controller-manager, kube-scheduler) into the cache when they are missing.
func nodeBinaries(t *testing.T, root string) string {
	t.Helper()
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "kubelet")); err == nil {
			return dir
		}
	}
	cmd := exec.Command(filepath.Join(root, "hack", "controlplane", "build.sh"), "--node")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/controlplane/build.sh --node: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// cgroupLayout describes /sys/fs/cgroup for the report and the kubelet's configuration.
func cgroupLayout() (v2 bool, desc string) {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &st); err != nil {
		return false, "cannot stat /sys/fs/cgroup: " + err.Error()
	}
	const cgroup2Magic = 0x63677270
	if st.Type == cgroup2Magic {
		return true, "cgroup v2 (unified)"
	}
	ctrls, _ := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
	return false, fmt.Sprintf("cgroup v1 (a tmpfs of v1 hierarchies; the v2 hierarchy at /sys/fs/cgroup/unified has controllers %q)", strings.TrimSpace(string(ctrls)))
}

// v1Hierarchies lists the mount points of the cgroup hierarchies of a cgroup v1 machine: the v1 ones and,
// on a hybrid layout, the v2 one beside them (runc creates the containers' cgroups there too).
func v1Hierarchies() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && (f[i+1] == "cgroup" || f[i+1] == "cgroup2") {
				out = append(out, f[4])
			}
		}
	}
	return out, nil
}

// kernelTunables are the sysctls a kubelet sets at start (setupKernelTunables, protectKernelDefaults
// false). The test puts back the machine's values afterwards: this is a shared machine, not a node.
var kernelTunables = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

func saveSysctls(t *testing.T) {
	t.Helper()
	saved := map[string][]byte{}
	for _, k := range kernelTunables {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			t.Fatalf("read sysctl %s: %v", k, err)
		}
		saved[k] = b
	}
	t.Cleanup(func() {
		for k, v := range saved {
			if err := os.WriteFile("/proc/sys/"+k, v, 0o644); err != nil {
				t.Errorf("restore sysctl %s to %s: %v", k, bytes.TrimSpace(v), err)
			}
		}
	})
}

// unmountUnder lazily unmounts every mount point below dir, deepest first (the kubelet's volumes,
// containerd's rootfs and sandbox mounts when something was left behind).
func unmountUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mps = append(mps, f[4])
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	for _, mp := range mps {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
	return mps
}

// capSysResource reports whether this process's bounding set has CAP_SYS_RESOURCE (bit 24), which setting a
// negative oom_score_adj needs.
func capSysResource() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			bits, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && bits&(1<<24) != 0
		}
	}
	return false
}

// cluster is the running single-node cluster.
type cluster struct {
	env        *testenv.Env
	work       string
	bin        string
	ctrSock    string
	kubeletDir string
	kubelet    *proc
	containerd *proc
	ctr        string
}

// ctrRun runs ctr against the test's containerd in the CRI namespace.
func (c *cluster) ctrRun(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.ctr, append([]string{"--address", c.ctrSock, "--namespace", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// importImage imports an OCI archive written by hack/image into containerd's CRI namespace.
func (c *cluster) importImage(ctx context.Context, img *testimage.Built) error {
	_, err := c.ctrRun(ctx, "images", "import", "--platform", "linux/"+runtime.GOARCH, img.Archive)
	if err != nil {
		return err
	}
	out, err := c.ctrRun(ctx, "images", "ls", "-q")
	if err != nil {
		return err
	}
	if !strings.Contains(out, img.Reference) {
		return fmt.Errorf("%s not in containerd after the import: %s", img.Reference, out)
	}
	return nil
}

var containerdConfig = `version = 2
root = "{{work}}/containerd/root"
state = "{{work}}/containerd/state"
[grpc]
  address = "{{sock}}"
[ttrpc]
  address = "{{sock}}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{pause}}"
  enable_selinux = false
  # true only where even root lacks CAP_SYS_RESOURCE (see capSysResource): OOM scores below containerd's
  # own cannot be set there, so they are clamped to it instead of failing every sandbox.
  restrict_oom_score_adj = {{restrictOOM}}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  # No CNI: host-network pods only. Empty directories so no configuration of the machine is picked up.
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{work}}/cni/bin"
    conf_dir = "{{work}}/cni/net.d"
`

var kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: {{port}}
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: "{{ca}}"}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupRoot: "{{cgroupRoot}}"
# This machine's kernel mounts cgroup v1; kubelets since 1.35 refuse it unless told otherwise.
failCgroupV1: {{failCgroupV1}}
containerRuntimeEndpoint: "unix://{{sock}}"
failSwapOn: false
podLogsDir: "{{work}}/pod-logs"
resolvConf: /etc/resolv.conf
# A shared build machine, not a node: evict nothing for lack of disk or memory.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
syncFrequency: 5s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 5s
serializeImagePulls: false
`

func render(tmpl string, vars map[string]string) string {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", v)
	}
	return tmpl
}

// startCluster starts everything but the workload and registers the teardown.
func startCluster(t *testing.T, pause *testimage.Built) *cluster {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{bin: nodeBinaries(t, root)}
	containerd := testprereq.Binary(t, "containerd", "make prereqs installs Debian's containerd")
	c.ctr = testprereq.Binary(t, "ctr", "make prereqs installs Debian's containerd")
	testprereq.Binary(t, "containerd-shim-runc-v2", "make prereqs installs Debian's containerd")
	testprereq.Binary(t, "runc", "make prereqs installs Debian's runc")

	// Not under /tmp's tmpfs or a 0700 test directory: containerd's overlay snapshots and the kubelet's
	// volumes live here, and the agent (uid 65532) must traverse its projected volume's path.
	if c.work, err = os.MkdirTemp("/var/lib", "cns-node-"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if left := unmountUnder(c.work); len(left) > 0 {
			t.Logf("unmounted what was left mounted under %s: %s", c.work, strings.Join(left, ", "))
		}
		if err := os.RemoveAll(c.work); err != nil {
			t.Logf("remove %s: %v", c.work, err)
		}
	})
	for _, d := range []string{"containerd", "cni/bin", "cni/net.d", "pod-logs", "kubelet", "logs"} {
		if err := os.MkdirAll(filepath.Join(c.work, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logs := filepath.Join(c.work, "logs")
	// Keep the component logs of a failed run where a human can read them.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		keep := filepath.Join(os.TempDir(), "cns-node-test-logs")
		_ = os.RemoveAll(keep)
		if err := exec.Command("cp", "-a", logs, keep).Run(); err == nil {
			t.Logf("component logs kept in %s", keep)
		}
	})

	// The control plane: Node authorization and NodeRestriction, as a real cluster has them, so the
	// kubelet gets exactly a node's rights (its pods' tokens, its own Node object).
	c.env, err = testenv.Start(testenv.Options{ExtraAPIServerArgs: map[string]string{
		"authorization-mode":       "Node,RBAC",
		"enable-admission-plugins": "NodeRestriction",
	}})
	if err != nil {
		testprereq.Require(t, false, "a real control plane: "+err.Error(), "make controlplane")
	}
	t.Cleanup(func() { _ = c.env.Stop() })
	ca := filepath.Join(c.work, "ca.crt")
	if err := os.WriteFile(ca, c.env.Config.CAData, 0o644); err != nil {
		t.Fatal(err)
	}

	// kube-controller-manager: DaemonSets, the kube-root-ca.crt ConfigMap of the projected token volume,
	// service accounts, garbage collection.
	kcm := startProc(t, "kube-controller-manager", filepath.Join(logs, "kube-controller-manager.log"), filepath.Join(c.bin, "kube-controller-manager"),
		"--kubeconfig="+c.env.Kubeconfig, "--leader-elect=false", "--secure-port=0", "--root-ca-file="+ca,
		"--controllers=daemonset,serviceaccount,root-ca-cert-publisher,garbagecollector", "--v=2")
	t.Cleanup(func() { kcm.stop(t, 10*time.Second) })
	sched := startProc(t, "kube-scheduler", filepath.Join(logs, "kube-scheduler.log"), filepath.Join(c.bin, "kube-scheduler"),
		"--kubeconfig="+c.env.Kubeconfig, "--leader-elect=false", "--secure-port=0", "--v=2")
	t.Cleanup(func() { sched.stop(t, 10*time.Second) })

	// containerd, its own instance: own socket, root and state, no CNI, our sandbox image.
	c.ctrSock = filepath.Join(c.work, "containerd.sock")
	restrictOOM := !capSysResource()
	if restrictOOM {
		t.Logf("this machine: no process has CAP_SYS_RESOURCE (not even root: it is missing from the bounding set), so the " +
			"kubelet's negative OOM scores (sandbox -998) cannot be set; containerd runs with restrict_oom_score_adj = true, " +
			"which clamps them to its own (0). Everything else runs as on a node.")
	}
	cfg := render(containerdConfig, map[string]string{"work": c.work, "sock": c.ctrSock, "pause": pause.Reference, "restrictOOM": strconv.FormatBool(restrictOOM)})
	cfgPath := filepath.Join(c.work, "containerd", "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c.containerd = startProc(t, "containerd", filepath.Join(logs, "containerd.log"), containerd, "--config", cfgPath)
	t.Cleanup(func() { c.stopContainerd(t) })
	testenv.Eventually(t, 30*time.Second, "containerd's socket", func() (bool, error) {
		if c.containerd.exited() {
			t.Fatalf("containerd exited: %v\n%s", c.containerd.err, c.containerd.tail(20))
		}
		_, err := c.ctrRun(context.Background(), "version")
		return err == nil, err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.importImage(ctx, pause); err != nil {
		t.Fatalf("import the sandbox image: %v", err)
	}
	for _, p := range []string{"kube-controller-manager", "kube-scheduler"} {
		for _, pr := range []*proc{kcm, sched} {
			if pr.name == p && pr.exited() {
				t.Fatalf("%s exited: %v\n%s", p, pr.err, pr.tail(30))
			}
		}
	}
	return c
}

// startKubelet starts the kubelet as node cnsnode. It returns an error (with the kubelet's own words)
// when the kubelet cannot run on this machine.
func (c *cluster) startKubelet(t *testing.T) error {
	t.Helper()
	v2, _ := cgroupLayout()
	saveSysctls(t)
	// The pods' cgroups go below a cgroup of our own in every hierarchy, removed afterwards.
	cgroupRoot := "/" + filepath.Base(c.work)
	var cgDirs []string
	if !v2 {
		hs, err := v1Hierarchies()
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			d := filepath.Join(h, cgroupRoot)
			if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				t.Fatalf("create cgroup %s: %v", d, err)
			}
			cgDirs = append(cgDirs, d)
		}
	} else {
		d := filepath.Join("/sys/fs/cgroup", cgroupRoot)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		cgDirs = append(cgDirs, d)
	}
	t.Cleanup(func() {
		for _, d := range cgDirs {
			removeCgroupTree(d)
		}
	})

	u, err := c.env.AddUser("system:node:"+nodeName, "system:nodes")
	if err != nil {
		t.Fatal(err)
	}
	c.kubeletDir = filepath.Join(c.work, "kubelet")
	cfgPath := filepath.Join(c.work, "kubelet.yaml")
	cfg := render(kubeletConfig, map[string]string{
		"port": strconv.Itoa(testenv.FreePort(t)), "ca": filepath.Join(c.work, "ca.crt"), "cgroupRoot": cgroupRoot,
		"failCgroupV1": strconv.FormatBool(v2), "sock": c.ctrSock, "work": c.work,
	})
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c.kubelet = startProc(t, "kubelet", filepath.Join(c.work, "logs", "kubelet.log"), filepath.Join(c.bin, "kubelet"),
		"--config="+cfgPath, "--kubeconfig="+u.Kubeconfig, "--root-dir="+c.kubeletDir, "--cert-dir="+filepath.Join(c.work, "kubelet-pki"),
		"--hostname-override="+nodeName, "--v=2")
	t.Cleanup(func() { c.kubelet.stop(t, 20*time.Second) })
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if c.kubelet.exited() {
			return fmt.Errorf("the kubelet exited (%v); its last words:\n%s", c.kubelet.err, c.kubelet.tail(15))
		}
		out, err := c.env.Kubectl(context.Background(), "", "get", "node", nodeName, "-o", "name")
		if err == nil && strings.TrimSpace(out) == "node/"+nodeName {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("the kubelet did not register node %s within 90 s; its last words:\n%s", nodeName, c.kubelet.tail(15))
}

// removeCgroupTree removes a cgroup directory and its children, deepest first (cgroups are removed with
// rmdir; they must be empty of processes, which they are once the containers are gone).
func removeCgroupTree(d string) {
	var dirs []string
	_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, p := range dirs {
		_ = syscall.Rmdir(p)
	}
}

var stopOnce sync.Mutex

// stopContainerd kills every container and sandbox it runs (their shims outlive containerd otherwise),
// then stops it.
func (c *cluster) stopContainerd(t *testing.T) {
	stopOnce.Lock()
	defer stopOnce.Unlock()
	if c.containerd == nil || c.containerd.exited() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := c.ctrRun(ctx, "tasks", "ls", "-q")
	for _, id := range strings.Fields(out) {
		_, _ = c.ctrRun(ctx, "tasks", "kill", "--signal", "SIGKILL", id)
	}
	for _, id := range strings.Fields(out) {
		for i := 0; i < 50; i++ {
			if _, err := c.ctrRun(ctx, "tasks", "delete", id); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cs, _ := c.ctrRun(ctx, "containers", "ls", "-q")
	for _, id := range strings.Fields(cs) {
		_, _ = c.ctrRun(ctx, "containers", "delete", id)
	}
	c.containerd.stop(t, 20*time.Second)
}
