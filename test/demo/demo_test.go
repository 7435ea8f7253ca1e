package demo_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

const (
	// A lab name of its own (namespaces labName-*, /run/labName) so the test never touches a demo a
	// human runs beside it (cnsdemo by default).
	labName = "cnsdemotest"
	object  = "my-caliconodestatus-1"
	steps   = 9
	agents  = 3
	// Per run of the demo: a warm first run takes well under a minute (control plane ~15 s, lab ~5 s).
	runTimeout = 3 * time.Minute
)

// TestDemo runs `make demo` end to end, then the script again (it must reuse what runs and restart the
// agents), then `make demo-down`, checking the output against the lab the demo built and that nothing
// is left behind.
func TestDemo(t *testing.T) {
	prereq.Require(t, runtime.GOOS == "linux", "Linux", "network namespaces: run on Linux")
	prereq.Root(t)
	makeBin := prereq.Binary(t, "make", "apt-get install make")
	root := repoRoot(t)
	// Build (or find in the cache) kube-apiserver, etcd and kubectl outside the demo's own time budget.
	if out, err := exec.Command(filepath.Join(root, "hack", "controlplane", "build.sh")).CombinedOutput(); err != nil {
		t.Fatalf("hack/controlplane/build.sh: %v\n%s", err, out)
	}

	state := filepath.Join(t.TempDir(), "state")
	env := append(os.Environ(),
		"CNS_DEMO_NAME="+labName,
		"CNS_DEMO_STATE_DIR="+state,
		"CNS_DEMO_PORT_BASE="+strconv.Itoa(freePortBase(t, 2*agents)),
		"CNS_DEMO_TIMEOUT=60",
	)
	linksBefore := hostLinks(t)
	tracked := &processes{}
	downDone := false
	t.Cleanup(func() {
		if downDone {
			return
		}
		// The test failed before its own teardown: leave nothing behind anyway.
		if out, err := runIn(root, env, makeBin, "demo-down"); err != nil {
			t.Errorf("cleanup: make demo-down: %v\n%s", err, out)
		}
	})

	// First run, through make as a user would.
	out, err := runIn(root, env, makeBin, "demo")
	if err != nil {
		t.Fatalf("make demo: %v\n%s", err, out)
	}
	lab := readLabEnv(t, "/run/"+labName+"/lab.env")
	checkOutput(t, out, lab)
	if strings.Contains(out, "reusing the running lab") {
		t.Errorf("first run claims to reuse a lab that the test had not started:\n%s", out)
	}
	first := agentPids(t, state)
	tracked.add(t, first...)
	tracked.addLab(t, labName)
	tracked.addControlPlane(t, filepath.Join(state, "controlplane", "pid"))
	if len(lab.nsList(t)) == 0 {
		t.Fatalf("no network namespace %s-* while the demo runs", labName)
	}

	// Second run, the script itself: idempotent, reuses the control plane and the healthy lab, restarts
	// the agents (new binary, fresh tokens) without leaving the old ones running.
	out, err = runIn(root, env, filepath.Join(root, "hack", "demo", "demo.sh"))
	if err != nil {
		t.Fatalf("second run of hack/demo/demo.sh: %v\n%s", err, out)
	}
	checkOutput(t, out, lab)
	if !strings.Contains(out, "reusing the running lab") {
		t.Errorf("second run did not reuse the healthy lab:\n%s", out)
	}
	second := agentPids(t, state)
	tracked.add(t, second...)
	tracked.addLab(t, labName)
	for i := range first {
		if first[i].pid == second[i].pid {
			t.Errorf("agent %d kept pid %d across runs: not restarted", i+1, first[i].pid)
		}
		if first[i].alive() {
			t.Errorf("agent %d of the first run (pid %d) still runs after the second run", i+1, first[i].pid)
		}
	}

	// Teardown.
	out, err = runIn(root, env, makeBin, "demo-down")
	downDone = true
	if err != nil {
		t.Fatalf("make demo-down: %v\n%s", err, out)
	}
	if !strings.Contains(out, "demo-down: nothing left") {
		t.Errorf("make demo-down did not report a clean teardown:\n%s", out)
	}
	if ns := lab.nsList(t); len(ns) > 0 {
		t.Errorf("network namespaces left after demo-down: %v", ns)
	}
	for _, p := range tracked.list {
		if p.alive() {
			t.Errorf("process left after demo-down: pid %d (%s)", p.pid, p.cmdline)
		}
	}
	for _, dir := range []string{state, "/run/" + labName} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after demo-down (stat: %v)", dir, err)
		}
	}
	for name := range hostLinks(t) {
		if !linksBefore[name] {
			t.Errorf("host network interface %s appeared during the demo and is still there", name)
		}
	}
	if len(tracked.list) < 2*agents+2 {
		t.Errorf("tracked only %d processes (agents, BIRD, gobgpd, control plane): the checks above saw too little", len(tracked.list))
	}
}

// checkOutput checks one run's output: every step's progress line in order, no failure, the identities,
// node isolation, and the three views of the status, against the lab's own description.
func checkOutput(t *testing.T, out string, lab labEnv) {
	t.Helper()
	failed := false
	errorf := func(format string, args ...any) {
		t.Helper()
		failed = true
		t.Errorf(format, args...)
	}
	defer func() {
		if failed {
			t.Logf("demo output:\n%s", out)
		}
	}()

	last := -1
	for i := 1; i <= steps; i++ {
		loc := regexp.MustCompile(fmt.Sprintf(`(?m)^\[%d/%d\] \S.*\.\.\.$`, i, steps)).FindStringIndex(out)
		switch {
		case loc == nil:
			errorf("no progress line [%d/%d]", i, steps)
		case loc[0] < last:
			errorf("progress line [%d/%d] out of order", i, steps)
		default:
			last = loc[0]
		}
	}
	if m := regexp.MustCompile(`(?m)^demo: .*failed.*$`).FindString(out); m != "" {
		errorf("the demo reports a failure: %s", m)
	}

	node1, node2 := lab.get(t, "NODE1_NAME"), lab.get(t, "NODE2_NAME")
	for i := 1; i <= agents; i++ {
		n := lab.get(t, fmt.Sprintf("NODE%d_NAME", i))
		re := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(n) + `: kubectl auth whoami -> system:serviceaccount:calico-node-status:calico-node-status-agent, extra authentication\.kubernetes\.io/node-name=\[` + regexp.QuoteMeta(n) + `\]`)
		if !re.MatchString(out) {
			errorf("no whoami line showing %s's token bound to Node %s", n, n)
		}
	}
	if !regexp.MustCompile(`(?m)node isolation: ` + regexp.QuoteMeta(node2) + `'s identity writing ` + object + `'s status \(node ` + regexp.QuoteMeta(node1) + `\) -> 403: .*may not write`).MatchString(out) {
		errorf("no line showing %s's identity refused (403) writing %s's object", node2, node1)
	}
	if !regexp.MustCompile(`(?m)node isolation: ` + regexp.QuoteMeta(node1) + `'s identity writing ` + object + `'s status -> 200`).MatchString(out) {
		errorf("no line showing %s's identity allowed to write its own object", node1)
	}

	// kubectl get caliconodestatus -o wide: columns found by the header's positions (kubectl aligns them;
	// "BIRD V4" has a space, so splitting on blanks would not do).
	wide := section(out, "$ kubectl get caliconodestatus -o wide", "")
	if len(wide) < 2 {
		errorf("no -o wide table")
	} else {
		row := ""
		for _, l := range wide[1:] {
			if strings.HasPrefix(l, object+" ") {
				row = l
			}
		}
		if row == "" {
			errorf("-o wide has no row for %s: %q", object, wide)
		} else {
			for col, want := range map[string]string{"NODE": node1, "READY": "True", "BIRD V4": "Ready", "BIRD V6": "Ready"} {
				if got := column(wide[0], row, col); got != want {
					errorf("-o wide: column %s = %q, want %q (header %q, row %q)", col, got, want, wide[0], row)
				}
			}
		}
	}

	// The object as YAML, parsed into the API type and compared with the lab's peers and blocks.
	y := section(out, "$ kubectl get caliconodestatus "+object+" -o yaml", "")
	var cns v3.CalicoNodeStatus
	if err := yaml.UnmarshalStrict([]byte(strings.Join(y, "\n")), &cns); err != nil {
		errorf("the -o yaml section does not parse as a CalicoNodeStatus: %v", err)
	} else {
		checkStatus(t, errorf, &cns, lab)
	}

	// The CLI's view has blank lines between its parts; the demo's closing text follows it.
	cli := strings.Join(section(out, "$ calico-node-status get "+object, "The demo is running"), "\n")
	for _, re := range []string{
		`(?m)^Node:\s+` + regexp.QuoteMeta(node1) + `$`,
		`(?m)^Status:\s+READY$`,
		`(?m)^BIRD v4: Ready`,
		`(?m)^BIRD v6: Ready`,
		`(?m)^\s+` + regexp.QuoteMeta(lab.get(t, "NODE2_IP4")) + `\s+NodeMesh\s+Established`,
		`(?m)^\s+` + regexp.QuoteMeta(lab.get(t, "LAB_TOR_IP6")) + `\s+GlobalPeer\s+Established`,
		`(?m)^\s+` + regexp.QuoteMeta(lab.get(t, "LAB_DEAD_IP4")) + `\s+NodePeer\s+(Idle|Connect|Active)\s`,
	} {
		if !regexp.MustCompile(re).MatchString(cli) {
			errorf("the CLI's view has no line matching %s", re)
		}
	}

	m := regexp.MustCompile(`(?m)^\s+kubeconfig \(admin\):\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		errorf("no kubeconfig path printed")
	} else if _, err := os.Stat(m[1]); err != nil {
		errorf("the printed kubeconfig: %v", err)
	}
	for _, want := range []string{"make demo-down", "calico-node-status get " + object, "/metrics"} {
		if !strings.Contains(out, want) {
			errorf("the how-to-explore part does not mention %q", want)
		}
	}
}

// checkStatus compares the status with the lab: node 1's mesh peers (the other nodes), the ToR (global
// peer), the peer nobody answers, for both families; the counts agree with the peer lists; node 2's
// IPAM block is routed via node 2.
func checkStatus(t *testing.T, errorf func(string, ...any), cns *v3.CalicoNodeStatus, lab labEnv) {
	t.Helper()
	if cns.Name != object || cns.Spec.Node != lab.get(t, "NODE1_NAME") {
		errorf("object %s for node %s, want %s for %s", cns.Name, cns.Spec.Node, object, lab.get(t, "NODE1_NAME"))
	}
	if cns.Status.ObservedGeneration != cns.Generation {
		errorf("status.observedGeneration %d, generation %d", cns.Status.ObservedGeneration, cns.Generation)
	}
	a := cns.Status.Agent
	if a == nil || a.BIRDV4 == nil || a.BIRDV6 == nil || a.BIRDV4.State != v3.BGPDaemonStateReady || a.BIRDV6.State != v3.BGPDaemonStateReady {
		errorf("status.agent: want birdV4 and birdV6 Ready, got %+v", a)
	}
	if a != nil && a.BIRDV4 != nil && a.BIRDV4.RouterID != lab.get(t, "NODE1_IP4") {
		errorf("status.agent.birdV4.routerID %s, want node 1's address %s", a.BIRDV4.RouterID, lab.get(t, "NODE1_IP4"))
	}
	b := cns.Status.BGP
	if b == nil {
		errorf("no status.bgp")
		return
	}
	for _, fam := range []struct {
		suffix  string
		peers   []v3.CalicoNodePeer
		est, ne int
	}{
		{"4", b.PeersV4, b.NumberEstablishedV4, b.NumberNotEstablishedV4},
		{"6", b.PeersV6, b.NumberEstablishedV6, b.NumberNotEstablishedV6},
	} {
		byIP := map[string]v3.CalicoNodePeer{}
		est := 0
		for _, p := range fam.peers {
			byIP[p.PeerIP] = p
			if p.State == v3.BGPSessionStateEstablished {
				est++
			}
		}
		if est != fam.est || len(fam.peers)-est != fam.ne {
			errorf("IPv%s: numberEstablished %d / numberNotEstablished %d, but the peer list has %d of %d established", fam.suffix, fam.est, fam.ne, est, len(fam.peers))
		}
		want := map[string]struct {
			typ         v3.BGPPeerType
			established bool
		}{
			lab.get(t, "NODE2_IP"+fam.suffix):    {v3.BGPPeerTypeNodeMesh, true},
			lab.get(t, "NODE3_IP"+fam.suffix):    {v3.BGPPeerTypeNodeMesh, true},
			lab.get(t, "LAB_TOR_IP"+fam.suffix):  {v3.BGPPeerTypeGlobalPeer, true},
			lab.get(t, "LAB_DEAD_IP"+fam.suffix): {v3.BGPPeerTypeNodePeer, false},
		}
		for ip, w := range want {
			p, ok := byIP[ip]
			switch {
			case !ok:
				errorf("IPv%s: no peer %s in status.bgp (peers: %+v)", fam.suffix, ip, fam.peers)
			case p.Type != w.typ || (p.State == v3.BGPSessionStateEstablished) != w.established:
				errorf("IPv%s: peer %s is %s/%s, want type %s, established=%v", fam.suffix, ip, p.Type, p.State, w.typ, w.established)
			}
		}
	}
	r := cns.Status.Routes
	if r == nil {
		errorf("no status.routes")
		return
	}
	block, gw := lab.get(t, "NODE2_BLOCK4"), lab.get(t, "NODE2_IP4")
	found := false
	for _, rt := range r.RoutesV4 {
		if rt.Destination == block && rt.Gateway == gw && rt.LearnedFrom.SourceType == v3.RouteSourceTypeNodeMesh && rt.LearnedFrom.PeerIP == gw {
			found = true
		}
	}
	if !found {
		errorf("status.routes.routesV4 has no route to node 2's block %s via %s learned from the mesh", block, gw)
	}
	if len(r.RoutesV6) == 0 {
		errorf("status.routes.routesV6 is empty")
	}
}

// section returns the lines after the line equal to header, up to the next line equal to end.
func section(out, header, end string) []string {
	var lines []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case !in && l == header:
			in = true
		case in && l == end:
			return lines
		case in:
			lines = append(lines, l)
		}
	}
	return lines
}

// column returns the cell of row under the header's column name.
func column(header, row, name string) string {
	i := strings.Index(header, name)
	if i < 0 || i >= len(row) {
		return ""
	}
	f := strings.Fields(row[i:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// runIn runs a command in the repository with the demo's environment and returns its combined output.
func runIn(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	// The demo's background processes redirect their output to files; WaitDelay bounds the wait should
	// one ever keep the pipe open.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: no result within %s: %w", name, strings.Join(args, " "), runTimeout, ctx.Err())
	}
	return string(out), err
}

type labEnv map[string]string

func readLabEnv(t *testing.T, path string) labEnv {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the lab's description: %v", err)
	}
	env := labEnv{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			env[k] = v
		}
	}
	return env
}

func (e labEnv) get(t *testing.T, key string) string {
	t.Helper()
	v, ok := e[key]
	if !ok || v == "" {
		t.Fatalf("lab.env has no %s", key)
	}
	return v
}

// nsList returns the lab's network namespaces.
func (e labEnv) nsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var ns []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], labName+"-") {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// hostLinks returns the names of the host namespace's network interfaces.
func hostLinks(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip -o link show: %v", err)
	}
	links := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			links[strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0]] = true
		}
	}
	return links
}

// proc is a process seen while the demo ran; the command line tells it from a later process that reuses
// its pid.
type proc struct {
	pid     int
	cmdline string
}

func (p proc) alive() bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return false
	}
	// state is the field after the parenthesised command name; a zombie is gone for our purposes.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
		return false
	}
	return cmdline(p.pid) == p.cmdline
}

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

type processes struct{ list []proc }

func (ps *processes) add(t *testing.T, p ...proc) {
	t.Helper()
	ps.list = append(ps.list, p...)
}

// fromPidFile reads a pid file of a running process.
func fromPidFile(t *testing.T, path string) proc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	p := proc{pid: pid, cmdline: cmdline(pid)}
	if !p.alive() || p.cmdline == "" {
		t.Fatalf("pid file %s names pid %d, which does not run", path, pid)
	}
	return p
}

// agentPids returns the agents' processes from their pid files, node 1 first.
func agentPids(t *testing.T, state string) []proc {
	t.Helper()
	var ps []proc
	for i := 1; i <= agents; i++ {
		p := fromPidFile(t, filepath.Join(state, fmt.Sprintf("node%d", i), "agent.pid"))
		if !strings.Contains(p.cmdline, "calico-node-status-agent") {
			t.Fatalf("agent %d: pid %d runs %q", i, p.pid, p.cmdline)
		}
		ps = append(ps, p)
	}
	return ps
}

// addLab tracks BIRD and gobgpd of the lab (their pid files).
func (ps *processes) addLab(t *testing.T, name string) {
	t.Helper()
	files, err := filepath.Glob("/run/" + name + "/*/*.pid")
	if err != nil || len(files) == 0 {
		t.Fatalf("no pid files of lab %s (%v)", name, err)
	}
	for _, f := range files {
		ps.add(t, fromPidFile(t, f))
	}
}

// addControlPlane tracks the control plane and its children (etcd, kube-apiserver).
func (ps *processes) addControlPlane(t *testing.T, pidFile string) {
	t.Helper()
	p := fromPidFile(t, pidFile)
	ps.add(t, p)
	children, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p.pid))
	n := 0
	for _, c := range children {
		b, _ := os.ReadFile(c)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				ps.add(t, proc{pid: pid, cmdline: cmdline(pid)})
				n++
			}
		}
	}
	if n < 2 {
		t.Errorf("the control plane (pid %d) has %d child processes, want etcd and kube-apiserver", p.pid, n)
	}
}

// freePortBase finds n consecutive free loopback ports for the agents' metrics and health endpoints.
func freePortBase(t *testing.T, n int) int {
	t.Helper()
	for base := 20000 + os.Getpid()%20000; base < 60000; base += n {
		ok := true
		var ls []net.Listener
		for p := base; p < base+n; p++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			_ = l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports on 127.0.0.1", n)
	return 0
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "demo", "demo.sh")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no hack/demo/demo.sh above the working directory")
		}
		dir = parent
	}
}
