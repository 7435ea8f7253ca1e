package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
)

// config is one bench run.
type config struct {
	Periods int
	Period  time.Duration // whole seconds: it becomes spec.updatePeriodSeconds
	Nodes   int           // lab nodes; node1 is measured and has Nodes-1 mesh peers per family
	Bird    int           // 1 (BIRD 1.6) or 2
	LabName string
	// ReuseLab uses a lab that is already up under LabName and leaves it up.
	ReuseLab bool
	// AgentBin and OriginalBin are prebuilt binaries; built from the repository into the work dir when empty.
	AgentBin, OriginalBin string
	// OriginalWrites is the baseline's --writes: always (default) or deepequal.
	OriginalWrites string
	// Keep leaves the work dir (logs, kubeconfig) in place.
	Keep bool
	// Progress receives one line per step; nil for silence.
	Progress io.Writer

	// Retry selects the retry bench (runRetry): Agents agent processes against node1 with DeadPeers peers per
	// family nobody answers, then with every session that is not Established removed; each phase measured
	// for Window, after the control plane's idle CPU measured for Idle.
	Retry             bool
	Agents, DeadPeers int
	Window, Idle      time.Duration
}

const (
	oursObject     = "bench-ours"
	originalObject = "bench-original"
	// The baseline reports for a node name of its own so that our agent (field selector spec.node=node1)
	// does not pick up its object, while both read node1's BIRD.
	originalNodeSuffix = "-original"
)

func (c *config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "bench: "+format+"\n", args...)
	}
}

// process is a measured child process.
type process struct {
	name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer
	exited chan struct{}
	err    error // of Wait, valid after exited
}

func startProcess(name, logPath, bin string, args ...string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log %s: %w", logPath, err)
	}
	p := &process{name: name, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, logf
	// The children must not outlive the bench, even when it is killed.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited early: %v", p.name, p.err)
	default:
		return nil
	}
}

// stop sends SIGTERM and waits; SIGKILL after the grace period.
func (p *process) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, grace)
	}
}

// sample is everything read at one end of the measurement window.
type sample struct {
	at                      time.Time
	ours, original          procstat.Sample
	apiserver, etcd         procstat.Sample
	oursProxy, origProxy    proxyCounts
	oursWrites, origWrites  int
	apiWrites               float64
	oursCollections         float64
	oursChanged, oursBeats  float64
	oursWriteErrs, oursConf float64
}

// run does one bench run and always tears down what it started.
func run(ctx context.Context, cfg config) (rep *report, err error) {
	st, finish, err := startRun(ctx, &cfg, "cns-bench-", true)
	defer func() { err = finish(err) }()
	if err != nil {
		return nil, err
	}
	l, env, work := st.lab, st.env, st.work
	node := l.Nodes[0]

	rep = &report{Machine: readMachine(), Periods: cfg.Periods, Period: cfg.Period, Nodes: len(l.Nodes),
		BirdVersion: l.BirdVersion, Node: node.Name, OriginalWrites: cfg.OriginalWrites}
	if rep.PeersV4, rep.PeersV6, rep.EstablishedV4, rep.EstablishedV6, err = countPeers(ctx, node); err != nil {
		return nil, err
	}

	proxies := map[string]*countingProxy{}
	defer func() {
		for _, p := range proxies {
			_ = p.Close()
		}
	}()
	for _, side := range []string{"ours", "original"} {
		if err := os.Mkdir(filepath.Join(work, side), 0o700); err != nil {
			return nil, fmt.Errorf("create proxy dir: %w", err)
		}
		for sock, upstream := range map[string]string{"bird.ctl": node.Socket4, "bird6.ctl": node.Socket6} {
			p, err := newCountingProxy(filepath.Join(work, side, sock), upstream)
			if err != nil {
				return nil, err
			}
			proxies[side+"/"+sock] = p
		}
	}

	if err := createObjects(ctx, env.Client, l, node.Name, int32(cfg.Period/time.Second)); err != nil {
		return nil, err
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	writes, cp, err := watchControlPlane(wctx, env)
	if err != nil {
		return nil, err
	}

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	cfg.progress("starting our agent and the original-style baseline for %s (period %s)", node.Name, cfg.Period)
	ours, err := startProcess("our agent", filepath.Join(work, "agent.log"), cfg.AgentBin,
		"--node-name", node.Name, "--kubeconfig", env.Kubeconfig,
		"--bird-socket", filepath.Join(work, "ours", "bird.ctl"), "--bird6-socket", filepath.Join(work, "ours", "bird6.ctl"),
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port), "--health-probe-bind-address", "0")
	if err != nil {
		return nil, err
	}
	defer func() { _ = ours.stop(15 * time.Second) }()
	orig, err := startProcess("original-style baseline", filepath.Join(work, "original.log"), cfg.OriginalBin,
		"--node-name", node.Name+originalNodeSuffix, "--kubeconfig", env.Kubeconfig, "--writes", cfg.OriginalWrites,
		"--bird-socket", filepath.Join(work, "original", "bird.ctl"), "--bird6-socket", filepath.Join(work, "original", "bird6.ctl"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = orig.stop(15 * time.Second) }()

	m := &meter{env: env, hc: &http.Client{Timeout: 5 * time.Second}, metricsURL: metricsURL, writes: writes,
		ours: ours, orig: orig, apiserver: cp.apiserver, etcd: cp.etcd, proxies: proxies}
	cfg.progress("warming up: waiting for the first write of each")
	if err := m.warmUp(ctx, 90*time.Second); err != nil {
		return nil, fmt.Errorf("%w (logs in %s)", err, work)
	}
	window := time.Duration(cfg.Periods) * cfg.Period
	cfg.progress("measuring %d periods of %s (%s)", cfg.Periods, cfg.Period, window)
	t0, err := m.sample(ctx, true)
	if err != nil {
		return nil, err
	}
	if err := m.wait(ctx, window); err != nil {
		return nil, fmt.Errorf("%w (logs in %s)", err, work)
	}
	t1, err := m.sample(ctx, false)
	if err != nil {
		return nil, err
	}
	// A BIRD that died during the window (anything stopping every bird process on the machine) would make
	// the numbers meaningless: check it still answers.
	if _, _, _, _, err := countPeers(ctx, node); err != nil {
		return nil, fmt.Errorf("after the window: %w", err)
	}
	if err := ours.stop(15 * time.Second); err != nil {
		return nil, err
	}
	if err := orig.stop(15 * time.Second); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(bytes.TrimSpace(orig.stdout.Bytes()), &rep.OriginalCounters); err != nil {
		return nil, fmt.Errorf("read the baseline's exit counters %q: %w", orig.stdout.String(), err)
	}
	rep.fill(t0, t1)
	rep.OursChanges = writes.changes(oursObject, t0.at, t1.at)
	rep.OriginalChanges = writes.changes(originalObject, t0.at, t1.at)
	return rep, nil
}

// started is what startRun started for a bench run.
type started struct {
	work string // the run's work dir (logs, kubeconfig, sockets)
	lab  *lab.Lab
	env  *testenv.Env
	// cleanupCtx is for teardown steps of the run: they must run also when ctx was cancelled (SIGINT).
	cleanupCtx context.Context
}

// startRun does what every bench run does first: it checks cfg and that it runs as root, makes a work
// dir named prefix*, builds the binaries cfg does not name (the original-style baseline only with
// original) and starts the lab and the control plane. finish, never nil, stops what was started and
// removes the work dir unless cfg.Keep or the run failed: defer it with the run's error, also when
// startRun failed, and return what it returns.
func startRun(ctx context.Context, cfg *config, prefix string, original bool) (st *started, finish func(error) error, err error) {
	finish = func(err error) error { return err }
	if err := cfg.validate(); err != nil {
		return nil, finish, err
	}
	if os.Geteuid() != 0 {
		return nil, finish, errors.New("the bench needs root: the lab creates network namespaces and runs BIRD")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, finish, err
	}
	work, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, finish, fmt.Errorf("create work dir: %w", err)
	}
	cleanupCtx := context.WithoutCancel(ctx)
	var teardown func(context.Context) error
	finish = func(err error) error {
		if teardown != nil {
			if terr := teardown(cleanupCtx); terr != nil && err == nil {
				err = terr
			}
		}
		if cfg.Keep || err != nil {
			cfg.progress("work dir kept: %s", work)
			return err
		}
		_ = os.RemoveAll(work)
		return err
	}

	if cfg.AgentBin == "" || (original && cfg.OriginalBin == "") {
		cfg.progress("building binaries")
	}
	if cfg.AgentBin == "" {
		if cfg.AgentBin, err = goBuild(ctx, root, filepath.Join(work, "calico-node-status-agent"), "./cmd/calico-node-status-agent"); err != nil {
			return nil, finish, err
		}
	}
	if original && cfg.OriginalBin == "" {
		if cfg.OriginalBin, err = goBuild(ctx, root, filepath.Join(work, "cns-bench-original"), "./test/bench/original"); err != nil {
			return nil, finish, err
		}
	}

	l, env, td, err := startLabAndControlPlane(ctx, *cfg, work)
	teardown = td
	if err != nil {
		return nil, finish, err
	}
	return &started{work: work, lab: l, env: env, cleanupCtx: cleanupCtx}, finish, nil
}

// watchControlPlane starts counting the status writes (a watch of every CalicoNodeStatus, until ctx
// ends) and finds the control plane's processes, whose CPU the bench reads.
func watchControlPlane(ctx context.Context, env *testenv.Env) (*writeCounter, controlPlaneProcs, error) {
	wcl, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, controlPlaneProcs{}, fmt.Errorf("watch client: %w", err)
	}
	writes, err := startWriteCounter(ctx, wcl)
	if err != nil {
		return nil, controlPlaneProcs{}, err
	}
	apiPids, err := procstat.ChildrenNamed("kube-apiserver")
	if err != nil {
		return nil, controlPlaneProcs{}, err
	}
	etcdPids, err := procstat.ChildrenNamed("etcd")
	if err != nil {
		return nil, controlPlaneProcs{}, err
	}
	if len(apiPids) != 1 || len(etcdPids) != 1 {
		return nil, controlPlaneProcs{}, fmt.Errorf("found %d kube-apiserver and %d etcd children of the bench, want one each", len(apiPids), len(etcdPids))
	}
	return writes, controlPlaneProcs{apiserver: apiPids[0], etcd: etcdPids[0]}, nil
}

// startLabAndControlPlane starts the BIRD lab (or loads it with ReuseLab) and a real control plane in
// work/controlplane, side by side: they take tens of seconds each. teardown stops what was started (the lab
// only when it was not reused) and is to be called even when err is not nil.
func startLabAndControlPlane(ctx context.Context, cfg config, work string) (l *lab.Lab, env *testenv.Env, teardown func(context.Context) error, err error) {
	cfg.progress("starting a real control plane and a BIRD %d lab %q with %d nodes", cfg.Bird, cfg.LabName, cfg.Nodes)
	type labResult struct {
		l   *lab.Lab
		err error
	}
	labc := make(chan labResult, 1)
	go func() {
		if cfg.ReuseLab {
			l, err := lab.Load(cfg.LabName)
			labc <- labResult{l, err}
			return
		}
		l, err := lab.Up(ctx, lab.Options{Name: cfg.LabName, Nodes: cfg.Nodes, Bird: cfg.Bird})
		labc <- labResult{l, err}
	}()
	cpDir := filepath.Join(work, "controlplane")
	envErr := os.Mkdir(cpDir, 0o700)
	if envErr == nil {
		env, envErr = testenv.Start(testenv.Options{WorkDir: cpDir})
	}
	lr := <-labc
	teardown = func(ctx context.Context) error {
		var errs []error
		if env != nil {
			cfg.progress("stopping the control plane")
			if serr := env.Stop(); serr != nil {
				errs = append(errs, fmt.Errorf("stop control plane: %w", serr))
			}
		}
		if !cfg.ReuseLab {
			cfg.progress("tearing down lab %q", cfg.LabName)
			errs = append(errs, lab.Down(ctx, cfg.LabName))
		}
		return errors.Join(errs...)
	}
	if err := errors.Join(envErr, lr.err); err != nil {
		return nil, nil, teardown, err
	}
	if len(lr.l.Nodes) < 1 {
		return nil, nil, teardown, fmt.Errorf("lab %s has no nodes", lr.l.Name)
	}
	return lr.l, env, teardown, nil
}

func (c *config) validate() error {
	switch {
	case !c.Retry && c.Periods < 1:
		return fmt.Errorf("--periods %d: want at least 1", c.Periods)
	case c.Period < time.Second || c.Period%time.Second != 0:
		return fmt.Errorf("--period %s: want whole seconds, at least 1s (it is spec.updatePeriodSeconds)", c.Period)
	case c.Nodes < 2:
		return fmt.Errorf("--nodes %d: want at least 2", c.Nodes)
	case c.Bird != 1 && c.Bird != 2:
		return fmt.Errorf("--bird %d: want 1 or 2", c.Bird)
	case !c.Retry && c.OriginalWrites != "always" && c.OriginalWrites != "deepequal":
		return fmt.Errorf("--original-writes %q: want always or deepequal", c.OriginalWrites)
	case c.Retry && c.Agents < 1:
		return fmt.Errorf("--agents %d: want at least 1", c.Agents)
	case c.Retry && (c.DeadPeers < 1 || c.DeadPeers > maxDeadPeers):
		return fmt.Errorf("--dead-peers %d: want 1 to %d", c.DeadPeers, maxDeadPeers)
	case c.Retry && c.Window < c.Period:
		return fmt.Errorf("--window %s: want at least one period (%s)", c.Window, c.Period)
	case c.Retry && c.Idle <= 0:
		return fmt.Errorf("--idle %s: want more than 0", c.Idle)
	}
	return nil
}

// goBuild builds pkg the way the Dockerfile builds the shipped agent (static, stripped), for both binaries
// alike: the mapped binary is a large part of RSS.
func goBuild(ctx context.Context, root, out, pkg string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// countPeers reads node's BGP protocols straight from BIRD (not through the proxies).
func countPeers(ctx context.Context, node lab.Node) (v4, v6, est4, est6 int, err error) {
	c := &bird.Collector{V4Socket: node.Socket4, V6Socket: node.Socket6}
	snap := c.Collect(ctx, bird.Need{Protocols: true})
	if err := errors.Join(snap.V4.ProtocolsErr, snap.V6.ProtocolsErr); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("read %s's BGP protocols: %w", node.Name, err)
	}
	count := func(ps []bird.Protocol) (n, est int) {
		for _, p := range ps {
			if p.BGP != nil {
				n++
				if p.BGP.State == "Established" {
					est++
				}
			}
		}
		return n, est
	}
	v4, est4 = count(snap.V4.Protocols)
	v6, est6 = count(snap.V6.Protocols)
	return v4, v6, est4, est6, nil
}

// createObjects creates the measured objects (ours and the baseline's, all classes) and one object per
// other lab node, which nobody refreshes: the baseline's informer caches them all, ours does not.
func createObjects(ctx context.Context, cl client.Client, l *lab.Lab, node string, period int32) error {
	all := []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}
	objs := []*v3.CalicoNodeStatus{
		{ObjectMeta: metav1.ObjectMeta{Name: oursObject}, Spec: v3.CalicoNodeStatusSpec{Node: node, Classes: all, UpdatePeriodSeconds: &period}},
		{ObjectMeta: metav1.ObjectMeta{Name: originalObject}, Spec: v3.CalicoNodeStatusSpec{Node: node + originalNodeSuffix, Classes: all, UpdatePeriodSeconds: &period}},
	}
	for _, n := range l.Nodes[1:] {
		objs = append(objs, &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "bench-" + n.Name},
			Spec: v3.CalicoNodeStatusSpec{Node: n.Name, Classes: all, UpdatePeriodSeconds: &period}})
	}
	for _, o := range objs {
		if err := cl.Create(ctx, o); err != nil {
			return fmt.Errorf("create CalicoNodeStatus %s: %w", o.Name, err)
		}
	}
	return nil
}

// meter reads the processes, the proxies, the write counter and the metrics.
type meter struct {
	env             *testenv.Env
	hc              *http.Client
	metricsURL      string
	writes          *writeCounter
	ours, orig      *process
	apiserver, etcd int
	proxies         map[string]*countingProxy
}

func (m *meter) alive() error { return errors.Join(m.ours.alive(), m.orig.alive()) }

// warmUp waits until both processes have written their object once and our metrics answer, so that start-up
// (informer lists, first connections) stays out of the window.
func (m *meter) warmUp(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := m.alive(); err != nil {
			return err
		}
		ow, err1 := m.writes.count(oursObject)
		bw, err2 := m.writes.count(originalObject)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if ow > 0 && bw > 0 {
			// The watch can see a write before the agent has counted it in its metrics: wait until both agree,
			// or the window would start between the two and the verdict would be off by one.
			if body, err := fetch(ctx, m.hc, m.metricsURL); err == nil {
				counted, err := sumSamples(bytes.NewReader(body), "calico_node_status_status_writes_total", map[string]string{"reason": "changed|heartbeat"})
				if err != nil {
					return fmt.Errorf("our agent's metrics: %w", err)
				}
				if int(counted) == ow {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("warm-up: after %s, our agent wrote %d times and the baseline %d times (want at least 1 each)", limit, ow, bw)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// wait lets the window pass, checking every second that both processes still run.
func (m *meter) wait(ctx context.Context, window time.Duration) error {
	end := time.NewTimer(window)
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end.C:
			return m.alive()
		case <-tick.C:
			if err := m.alive(); err != nil {
				return err
			}
		}
	}
}

// sample reads everything at one end of the window. Reading the agent's /metrics costs the agent CPU, so
// it happens outside the window: before the /proc reading at the start (first=true), after it at the end.
func (m *meter) sample(ctx context.Context, first bool) (s sample, err error) {
	if first {
		if err := m.sampleCounters(ctx, &s); err != nil {
			return s, err
		}
	}
	s.at = time.Now()
	for _, r := range []struct {
		pid int
		dst *procstat.Sample
	}{{m.ours.pid(), &s.ours}, {m.orig.pid(), &s.original}, {m.apiserver, &s.apiserver}, {m.etcd, &s.etcd}} {
		if *r.dst, err = procstat.Read(r.pid); err != nil {
			return s, err
		}
	}
	add := func(a, b proxyCounts) proxyCounts { return proxyCounts{a.Conns + b.Conns, a.Commands + b.Commands} }
	s.oursProxy = add(m.proxies["ours/bird.ctl"].counts(), m.proxies["ours/bird6.ctl"].counts())
	s.origProxy = add(m.proxies["original/bird.ctl"].counts(), m.proxies["original/bird6.ctl"].counts())
	var err1, err2 error
	s.oursWrites, err1 = m.writes.count(oursObject)
	s.origWrites, err2 = m.writes.count(originalObject)
	if err := errors.Join(err1, err2); err != nil {
		return s, err
	}
	if !first {
		if err := m.sampleCounters(ctx, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// sampleCounters reads the API server's write count and our agent's metrics (one scrape).
func (m *meter) sampleCounters(ctx context.Context, s *sample) (err error) {
	if s.apiWrites, err = apiserverStatusWrites(ctx, m.env.Config); err != nil {
		return err
	}
	body, err := fetch(ctx, m.hc, m.metricsURL)
	if err != nil {
		return err
	}
	for _, q := range []struct {
		metric string
		want   map[string]string
		dst    *float64
	}{
		{"calico_node_status_collection_duration_seconds_count", nil, &s.oursCollections},
		{"calico_node_status_status_writes_total", map[string]string{"reason": "changed"}, &s.oursChanged},
		{"calico_node_status_status_writes_total", map[string]string{"reason": "heartbeat"}, &s.oursBeats},
		{"calico_node_status_status_writes_total", map[string]string{"reason": "error"}, &s.oursWriteErrs},
		{"calico_node_status_status_write_conflicts_total", nil, &s.oursConf},
	} {
		if *q.dst, err = sumSamples(bytes.NewReader(body), q.metric, q.want); err != nil {
			return fmt.Errorf("our agent's metrics: %w", err)
		}
	}
	return nil
}

// itoa is strconv.Itoa for int64 counters in the report.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
