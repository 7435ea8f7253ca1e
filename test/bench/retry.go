package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
)

// The retry bench (--retry, `make bench-retry`): N agent processes (the real binary), each with a node name
// and an object of its own, all reading the lab's node1, against a real control plane; first with node1
// given --dead-peers peers per family that nobody answers (plus the lab's own), then with every peer that is
// not Established removed from node1's BIRD. Before both, the control plane's idle CPU. It reports status
// writes per object per hour and kube-apiserver + etcd CPU above idle for each phase, and their ratio
// dead/healthy (target: equal; issue 10).

// retryPhase is one phase of the retry bench.
type retryPhase struct {
	Name   string        `json:"name"` // "dead" or "healthy"
	Window time.Duration `json:"window"`
	// NotEstablished are node1's BGP sessions that were not Established when the phase began.
	NotEstablished []string `json:"notEstablished"`
	// BirdStateChanges is how often the bench saw a not-established session's printed state, info or since
	// change, reading BIRD about every second in the window: BIRD's own churn, which the agents must not
	// turn into writes.
	BirdStateChanges int `json:"birdStateChanges"`

	Writes              int     `json:"statusWrites"` // seen through the watch, all N objects
	WritesPerObjectHour float64 `json:"writesPerObjectHour"`
	APIServerWrites     float64 `json:"apiserverStatusWrites"`
	AgentChanged        float64 `json:"agentWritesChanged"`   // the agents' status_writes_total{reason="changed"}
	AgentHeartbeat      float64 `json:"agentWritesHeartbeat"` // ... {reason="heartbeat"}
	AgentUnchanged      float64 `json:"agentUnchanged"`       // status_unchanged_total: collections not written
	AgentErrors         float64 `json:"agentWriteErrors"`
	// Collections is how many BIRD snapshots the agents read (collection_duration_seconds_count), with their
	// mean duration and how many took more than 0.512 s (a histogram bucket bound): a collection late by
	// more than half a period skips a grid point.
	Collections     float64        `json:"agentCollections"`
	CollectionMeanS float64        `json:"agentCollectionMeanSeconds"`
	SlowCollections float64        `json:"agentCollectionsOver512ms"`
	Changes         map[string]int `json:"changes"` // what the writes changed: path -> writes

	// CPU seconds in the window (schedstat, ns resolution).
	APIServerCPU float64 `json:"apiserverCPUSeconds"`
	EtcdCPU      float64 `json:"etcdCPUSeconds"`
	AgentsCPU    float64 `json:"agentsCPUSeconds"` // all N agents together
	// AboveIdle is kube-apiserver + etcd CPU in % of one vCPU above the idle phase's rate.
	AboveIdle float64 `json:"apiserverEtcdPercentAboveIdle"`

	// StatusSaysDown counts the objects whose status at the end of the phase lists every session that was
	// not Established as such, with BIRD's reason and a since: the status still tells the operator.
	StatusSaysDown int `json:"objectsShowingEveryDownPeer"`
}

// retryReport is the result of one retry bench run.
type retryReport struct {
	Machine     machine       `json:"machine"`
	BirdVersion string        `json:"birdVersion"`
	Nodes       int           `json:"nodes"`
	Node        string        `json:"node"`
	Agents      int           `json:"agents"`
	Period      time.Duration `json:"period"`
	DeadPeers   int           `json:"deadPeersAddedPerFamily"`
	AgentBin    string        `json:"agentBin"`

	IdleWindow  time.Duration `json:"idleWindow"`
	IdleAPICPU  float64       `json:"idleAPIServerCPUSeconds"`
	IdleEtcdCPU float64       `json:"idleEtcdCPUSeconds"`

	Phases []retryPhase `json:"phases"`
}

func (r *retryReport) phase(name string) *retryPhase {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return &retryPhase{Name: name}
}

// runRetry does one retry bench run and always tears down what it started.
func runRetry(ctx context.Context, cfg config) (rep *retryReport, err error) {
	st, finish, err := startRun(ctx, &cfg, "cns-bench-retry-", false)
	defer func() { err = finish(err) }()
	if err != nil {
		return nil, err
	}
	l, env, work, cleanupCtx := st.lab, st.env, st.work, st.cleanupCtx
	node := l.Nodes[0]
	daemons, err := nodeDaemons(l, node)
	if err != nil {
		return nil, err
	}
	if cfg.ReuseLab {
		// Leave the lab's node as it was found.
		defer func() {
			for _, d := range daemons {
				if rerr := d.reconfigure(cleanupCtx, "bird-bench-restored.conf", d.orig); rerr != nil && err == nil {
					err = rerr
				}
			}
		}()
	}
	rep = &retryReport{Machine: readMachine(), BirdVersion: l.BirdVersion, Nodes: len(l.Nodes), Node: node.Name,
		Agents: cfg.Agents, Period: cfg.Period, DeadPeers: cfg.DeadPeers, AgentBin: cfg.AgentBin}

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	writes, cp, err := watchControlPlane(wctx, env)
	if err != nil {
		return nil, err
	}

	// Idle: the control plane with the bench's watch and nothing else.
	cfg.progress("measuring the control plane idle for %s", cfg.Idle)
	i0, err := cp.read()
	if err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, cfg.Idle); err != nil {
		return nil, err
	}
	i1, err := cp.read()
	if err != nil {
		return nil, err
	}
	rep.IdleWindow = i1.at.Sub(i0.at)
	rep.IdleAPICPU, rep.IdleEtcdCPU = schedSeconds(i0.apiserver, i1.apiserver), schedSeconds(i0.etcd, i1.etcd)

	other := l.Nodes[1]
	dead4, dead6 := deadPeersFor(cfg.DeadPeers, netip.MustParseAddr(other.IP4), netip.MustParseAddr(other.IP6))
	labDead := []string{"Node_" + protoName(netip.MustParseAddr(l.DeadPeer.IP4)), "Node_" + protoName(netip.MustParseAddr(l.DeadPeer.IP6))}
	labOff := []string{"Node_" + protoName(netip.MustParseAddr(l.DisabledPeer.IP4)), "Node_" + protoName(netip.MustParseAddr(l.DisabledPeer.IP6))}
	var deadNames []string
	for _, p := range slices.Concat(dead4, dead6) {
		deadNames = append(deadNames, p.name)
	}
	deadNames = append(deadNames, labDead...)

	r := &retryRun{cfg: cfg, env: env, node: node, writes: writes, cp: cp, work: work, hc: &http.Client{Timeout: 5 * time.Second}}

	// Phase "dead": the lab's configuration plus the dead peers.
	cfg.progress("phase dead: adding %d peers per family nobody answers for to %s (connect retry time %d s, as Calico)", cfg.DeadPeers, node.Name, calicoConnectRetry)
	for _, d := range daemons {
		var add string
		switch d.family {
		case 4:
			add = deadPeerConf(l.Bird, dead4, l.AS, netip.MustParseAddr(node.IP4))
		case 6:
			add = deadPeerConf(l.Bird, dead6, l.AS, netip.MustParseAddr(node.IP6))
		default:
			add = deadPeerConf(l.Bird, dead4, l.AS, netip.MustParseAddr(node.IP4)) + deadPeerConf(l.Bird, dead6, l.AS, netip.MustParseAddr(node.IP6))
		}
		if err := d.reconfigure(ctx, "bird-bench-dead.conf", d.orig+"\n"+add); err != nil {
			return nil, err
		}
	}
	// The agents start once every dead peer has failed at least once: a first write before BIRD has an
	// error to show would be followed by a real change (the error appearing) inside the window.
	if err := waitProtocols(ctx, node, 60*time.Second, "every dead peer down with an error, every other session Established", func(ps map[string]bird.Protocol) (bool, string) {
		for _, n := range deadNames {
			p, ok := ps[n]
			if !ok || p.BGP.LastError == "" || p.BGP.State == "Established" {
				return false, fmt.Sprintf("%s: present %t, %+v", n, ok, p.BGP)
			}
		}
		for n, p := range ps {
			if !slices.Contains(deadNames, n) && !slices.Contains(labOff, n) && p.BGP.State != "Established" {
				return false, fmt.Sprintf("%s is %s", n, p.BGP.State)
			}
		}
		return true, ""
	}); err != nil {
		return nil, err
	}
	ph, err := r.phase(ctx, "dead")
	if err != nil {
		return nil, err
	}
	rep.Phases = append(rep.Phases, ph)

	// Phase "healthy": the lab's configuration without any peer that is not Established.
	cfg.progress("phase healthy: removing every session of %s that is not Established", node.Name)
	for _, d := range daemons {
		var drop []string
		for _, n := range slices.Concat(labDead, labOff) {
			if strings.Contains(d.orig, "protocol bgp "+n+" ") {
				drop = append(drop, n)
			}
		}
		conf, err := removeProtocols(d.orig, drop)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.path, err)
		}
		if err := d.reconfigure(ctx, "bird-bench-healthy.conf", conf); err != nil {
			return nil, err
		}
	}
	if err := waitProtocols(ctx, node, 60*time.Second, "every session Established, no dead one left", func(ps map[string]bird.Protocol) (bool, string) {
		for n, p := range ps {
			if p.BGP.State != "Established" {
				return false, fmt.Sprintf("%s is %s", n, p.BGP.State)
			}
		}
		return len(ps) > 0, "no BGP sessions"
	}); err != nil {
		return nil, err
	}
	if ph, err = r.phase(ctx, "healthy"); err != nil {
		return nil, err
	}
	rep.Phases = append(rep.Phases, ph)
	idleRate := (rep.IdleAPICPU + rep.IdleEtcdCPU) / rep.IdleWindow.Seconds()
	for i := range rep.Phases {
		p := &rep.Phases[i]
		p.AboveIdle = 100 * ((p.APIServerCPU+p.EtcdCPU)/p.Window.Seconds() - idleRate)
	}
	return rep, nil
}

// retryRun is what the phases of one retry bench run share.
type retryRun struct {
	cfg    config
	env    *testenv.Env
	node   lab.Node
	writes *writeCounter
	cp     controlPlaneProcs
	work   string
	hc     *http.Client
}

// retryAgent is one agent process of a phase, with its object.
type retryAgent struct {
	object     string
	metricsURL string
	proc       *process
}

// phase creates the phase's N objects, starts one agent per object, waits until each has written its
// object once (and counted it), then measures the window and stops the agents.
func (r *retryRun) phase(ctx context.Context, name string) (ph retryPhase, err error) {
	ph = retryPhase{Name: name}
	ps, err := bgpProtocols(ctx, r.node)
	if err != nil {
		return ph, err
	}
	for n, p := range ps {
		if p.BGP.State != "Established" {
			ph.NotEstablished = append(ph.NotEstablished, n)
		}
	}
	slices.Sort(ph.NotEstablished)

	period := int32(r.cfg.Period / time.Second)
	all := []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}
	agents := make([]*retryAgent, r.cfg.Agents)
	defer func() {
		for _, a := range agents {
			if a != nil {
				_ = a.proc.stop(15 * time.Second)
			}
		}
	}()
	r.cfg.progress("phase %s: starting %d agents (period %s), each with its own node name and object, all reading %s's BIRD", name, len(agents), r.cfg.Period, r.node.Name)
	for i := range agents {
		obj := fmt.Sprintf("retry-%s-%d", name, i+1)
		o := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: obj}, Spec: v3.CalicoNodeStatusSpec{Node: obj, Classes: all, UpdatePeriodSeconds: &period}}
		if err := r.env.Client.Create(ctx, o); err != nil {
			return ph, fmt.Errorf("create CalicoNodeStatus %s: %w", obj, err)
		}
		port, err := freePort()
		if err != nil {
			return ph, err
		}
		p, err := startProcess("agent "+obj, filepath.Join(r.work, obj+".log"), r.cfg.AgentBin,
			"--node-name", obj, "--kubeconfig", r.env.Kubeconfig,
			"--bird-socket", r.node.Socket4, "--bird6-socket", r.node.Socket6,
			"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", port), "--health-probe-bind-address", "0")
		if err != nil {
			return ph, err
		}
		agents[i] = &retryAgent{object: obj, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), proc: p}
	}
	r.cfg.progress("phase %s: warming up: waiting for every agent's first write", name)
	if err := r.warmUp(ctx, agents, 120*time.Second); err != nil {
		return ph, fmt.Errorf("phase %s: %w (logs in %s)", name, err, r.work)
	}
	// The first write follows the object's creation, off the agent's grid; the next grid point is at least
	// half a period later, so one of the window's periods could go without a collection. Start the window
	// once every agent has made one collection on its grid.
	if err := r.oneMoreCollection(ctx, agents, 2*r.cfg.Period+30*time.Second); err != nil {
		return ph, fmt.Errorf("phase %s: %w (logs in %s)", name, err, r.work)
	}

	window := r.cfg.Window
	r.cfg.progress("phase %s: measuring %s", name, window)
	c0, err := r.counters(ctx, agents)
	if err != nil {
		return ph, err
	}
	t0, err := r.sample(agents)
	if err != nil {
		return ph, err
	}
	// Watch BIRD's churn while waiting: every not-established session's printed state, info and since.
	seen := map[string]string{}
	observe := func() error {
		ps, err := bgpProtocols(ctx, r.node)
		if err != nil {
			return err
		}
		for _, n := range ph.NotEstablished {
			p := ps[n]
			now := p.BGP.State + "|" + p.Info + "|" + p.Since
			if prev, ok := seen[n]; ok && prev != now {
				ph.BirdStateChanges++
			}
			seen[n] = now
		}
		return nil
	}
	end := time.Now().Add(window)
	for time.Now().Before(end) {
		if err := observe(); err != nil {
			return ph, err
		}
		for _, a := range agents {
			if err := a.proc.alive(); err != nil {
				return ph, fmt.Errorf("%w (logs in %s)", err, r.work)
			}
		}
		if err := sleepCtx(ctx, min(time.Second, time.Until(end))); err != nil {
			return ph, err
		}
	}
	t1, err := r.sample(agents)
	if err != nil {
		return ph, err
	}
	c1, err := r.counters(ctx, agents)
	if err != nil {
		return ph, err
	}
	ph.Window = t1.at.Sub(t0.at)
	ph.Writes = t1.writes - t0.writes
	ph.WritesPerObjectHour = float64(ph.Writes) / float64(len(agents)) / ph.Window.Hours()
	ph.APIServerWrites = c1.apiWrites - c0.apiWrites
	ph.AgentChanged, ph.AgentHeartbeat = c1.changed-c0.changed, c1.heartbeat-c0.heartbeat
	ph.AgentUnchanged, ph.AgentErrors = c1.unchanged-c0.unchanged, c1.errors-c0.errors
	ph.Collections = c1.collections - c0.collections
	if ph.Collections > 0 {
		ph.CollectionMeanS = (c1.collectSum - c0.collectSum) / ph.Collections
	}
	ph.SlowCollections = ph.Collections - (c1.collectFast - c0.collectFast)
	ph.APIServerCPU, ph.EtcdCPU = schedSeconds(t0.cp.apiserver, t1.cp.apiserver), schedSeconds(t0.cp.etcd, t1.cp.etcd)
	ph.AgentsCPU = float64(int64(t1.agentsNanos)-int64(t0.agentsNanos)) / 1e9
	ph.Changes = map[string]int{}
	for _, a := range agents {
		for path, n := range r.writes.changes(a.object, t0.at, t1.at) {
			ph.Changes[path] += n
		}
	}
	for _, a := range agents {
		var o v3.CalicoNodeStatus
		if err := r.env.Client.Get(ctx, client.ObjectKey{Name: a.object}, &o); err != nil {
			return ph, fmt.Errorf("read CalicoNodeStatus %s: %w", a.object, err)
		}
		if showsDown(&o, ph.NotEstablished) {
			ph.StatusSaysDown++
		}
	}
	return ph, nil
}

// showsDown reports whether o's status lists every protocol in down as not Established, with a reason and
// a since.
func showsDown(o *v3.CalicoNodeStatus, down []string) bool {
	if o.Status.BGP == nil {
		return false
	}
	peers := slices.Concat(o.Status.BGP.PeersV4, o.Status.BGP.PeersV6)
	for _, n := range down {
		i := slices.IndexFunc(peers, func(p v3.CalicoNodePeer) bool { return p.Protocol == n })
		if i < 0 || peers[i].State == "" || peers[i].State == v3.BGPSessionStateEstablished || peers[i].Info == "" || peers[i].Since == "" {
			return false
		}
	}
	return true
}

func (r *retryRun) warmUp(ctx context.Context, agents []*retryAgent, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		waiting := 0
		var last string
		for _, a := range agents {
			if err := a.proc.alive(); err != nil {
				return err
			}
			n, err := r.writes.count(a.object)
			if err != nil {
				return err
			}
			if n == 0 {
				waiting++
				last = a.object + ": not written yet"
				continue
			}
			// The watch can see a write before the agent has counted it: wait until both agree.
			body, err := fetch(ctx, r.hc, a.metricsURL)
			if err != nil {
				waiting++
				last = err.Error()
				continue
			}
			counted, err := sumSamples(bytes.NewReader(body), "calico_node_status_status_writes_total", map[string]string{"reason": "changed|heartbeat"})
			if err != nil {
				return fmt.Errorf("%s's metrics: %w", a.object, err)
			}
			if int(counted) != n {
				waiting++
				last = fmt.Sprintf("%s: the watch saw %d writes, the agent counted %v", a.object, n, counted)
			}
		}
		if waiting == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("warm-up: after %s, %d of %d agents not settled (%s)", limit, waiting, len(agents), last)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// oneMoreCollection waits until every agent has finished one more collection (written or not) than when it
// was called.
func (r *retryRun) oneMoreCollection(ctx context.Context, agents []*retryAgent, limit time.Duration) error {
	collections := func(a *retryAgent) (float64, error) {
		body, err := fetch(ctx, r.hc, a.metricsURL)
		if err != nil {
			return 0, err
		}
		w, err1 := sumSamples(bytes.NewReader(body), "calico_node_status_status_writes_total", nil)
		u, err2 := sumSamples(bytes.NewReader(body), "calico_node_status_status_unchanged_total", nil)
		if err := errors.Join(err1, err2); err != nil {
			return 0, fmt.Errorf("%s's metrics: %w", a.object, err)
		}
		return w + u, nil
	}
	base := make([]float64, len(agents))
	for i, a := range agents {
		var err error
		if base[i], err = collections(a); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(limit)
	for {
		waiting := 0
		for i, a := range agents {
			n, err := collections(a)
			if err != nil {
				return err
			}
			if n <= base[i] {
				waiting++
			}
		}
		if waiting == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, %d of %d agents had not collected again", limit, waiting, len(agents))
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// retrySample is one end of a phase's window.
type retrySample struct {
	at          time.Time
	cp          cpSample
	agentsNanos uint64
	writes      int
}

func (r *retryRun) sample(agents []*retryAgent) (retrySample, error) {
	var s retrySample
	var err error
	if s.cp, err = r.cp.read(); err != nil {
		return s, err
	}
	s.at = s.cp.at
	for _, a := range agents {
		ps, err := procstat.Read(a.proc.pid())
		if err != nil {
			return s, err
		}
		s.agentsNanos += ps.CPUNanos
		n, err := r.writes.count(a.object)
		if err != nil {
			return s, err
		}
		s.writes += n
	}
	return s, nil
}

// retryCounters are the agents' own counts and the API server's, read outside the CPU window's ends.
type retryCounters struct {
	apiWrites                             float64
	changed, heartbeat, unchanged, errors float64
	collections, collectSum, collectFast  float64
}

func (r *retryRun) counters(ctx context.Context, agents []*retryAgent) (c retryCounters, err error) {
	if c.apiWrites, err = apiserverStatusWrites(ctx, r.env.Config); err != nil {
		return c, err
	}
	for _, a := range agents {
		body, err := fetch(ctx, r.hc, a.metricsURL)
		if err != nil {
			return c, err
		}
		for _, q := range []struct {
			metric string
			want   map[string]string
			dst    *float64
		}{
			{"calico_node_status_status_writes_total", map[string]string{"reason": "changed"}, &c.changed},
			{"calico_node_status_status_writes_total", map[string]string{"reason": "heartbeat"}, &c.heartbeat},
			{"calico_node_status_status_writes_total", map[string]string{"reason": "error"}, &c.errors},
			{"calico_node_status_status_unchanged_total", nil, &c.unchanged},
			{"calico_node_status_collection_duration_seconds_count", nil, &c.collections},
			{"calico_node_status_collection_duration_seconds_sum", nil, &c.collectSum},
			{"calico_node_status_collection_duration_seconds_bucket", map[string]string{"le": "0.512"}, &c.collectFast},
		} {
			v, err := sumSamples(bytes.NewReader(body), q.metric, q.want)
			if err != nil {
				return c, fmt.Errorf("%s's metrics: %w", a.object, err)
			}
			*q.dst += v
		}
	}
	return c, nil
}

// controlPlaneProcs are the bench's kube-apiserver and etcd.
type controlPlaneProcs struct{ apiserver, etcd int }

type cpSample struct {
	at              time.Time
	apiserver, etcd procstat.Sample
}

func (c controlPlaneProcs) read() (s cpSample, err error) {
	s.at = time.Now()
	if s.apiserver, err = procstat.Read(c.apiserver); err != nil {
		return s, err
	}
	s.etcd, err = procstat.Read(c.etcd)
	return s, err
}

func schedSeconds(a, b procstat.Sample) float64 {
	return float64(int64(b.CPUNanos)-int64(a.CPUNanos)) / 1e9
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryVerdicts are the retry bench's targets.
func (r *retryReport) verdicts() []verdict {
	dead, healthy := r.phase("dead"), r.phase("healthy")
	return []verdict{
		{"writes per object per hour, dead vs healthy", fmt.Sprintf("%.1f vs %.1f", dead.WritesPerObjectHour, healthy.WritesPerObjectHour),
			"dead <= healthy", dead.WritesPerObjectHour <= healthy.WritesPerObjectHour},
		{"status shows every down peer", fmt.Sprintf("%d of %d objects", dead.StatusSaysDown, r.Agents),
			"all, with reason and since", dead.StatusSaysDown == r.Agents},
	}
}

func (r *retryReport) print(w io.Writer) {
	dead, healthy := r.phase("dead"), r.phase("healthy")
	fmt.Fprintf(w, "calico-node-status retry bench: %d agents (the real binary, a node name and an object each) reading %s of a %d-node BIRD %s lab, period %s, all classes\n",
		r.Agents, r.Node, r.Nodes, r.BirdVersion, r.Period)
	fmt.Fprintf(w, "machine: %d vCPU, %s, kernel %s; agent %s\n", r.Machine.NProc, r.Machine.CPUModel, r.Machine.Kernel, r.AgentBin)
	fmt.Fprintf(w, "dead phase: %s's sessions not Established: %s (%d added per family, connect retry time %d s as Calico, plus the lab's)\n",
		r.Node, strings.Join(dead.NotEstablished, " "), r.DeadPeers, calicoConnectRetry)
	fmt.Fprintf(w, "healthy phase: sessions not Established: %d\n", len(healthy.NotEstablished))
	fmt.Fprintf(w, "idle control plane (no agent): kube-apiserver %.2f + etcd %.2f CPU s in %s = %.3f %% of a vCPU\n\n",
		r.IdleAPICPU, r.IdleEtcdCPU, r.IdleWindow.Round(time.Second), 100*(r.IdleAPICPU+r.IdleEtcdCPU)/r.IdleWindow.Seconds())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "metric (per phase window)\tdead peers\tall healthy\tratio (dead/healthy)")
	fmt.Fprintln(tw, "-------------------------\t----------\t-----------\t--------------------")
	row := func(name string, d, h float64, format string) {
		fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%s\n", name, d, h, ratio(d, h))
	}
	row("window (s)", dead.Window.Seconds(), healthy.Window.Seconds(), "%.0f")
	row("BIRD churn seen (state/info/since changes)", float64(dead.BirdStateChanges), float64(healthy.BirdStateChanges), "%.0f")
	row("status writes (watch, all objects)", float64(dead.Writes), float64(healthy.Writes), "%.0f")
	row("status writes per object per hour", dead.WritesPerObjectHour, healthy.WritesPerObjectHour, "%.2f")
	row("API server's count of status writes", dead.APIServerWrites, healthy.APIServerWrites, "%.0f")
	row("agents: writes changed", dead.AgentChanged, healthy.AgentChanged, "%.0f")
	row("agents: writes heartbeat", dead.AgentHeartbeat, healthy.AgentHeartbeat, "%.0f")
	row("agents: collections not written", dead.AgentUnchanged, healthy.AgentUnchanged, "%.0f")
	row("agents: BIRD collections", dead.Collections, healthy.Collections, "%.0f")
	row("agents: mean collection time (ms)", 1000*dead.CollectionMeanS, 1000*healthy.CollectionMeanS, "%.1f")
	row("agents: collections over 0.512 s", dead.SlowCollections, healthy.SlowCollections, "%.0f")
	row("kube-apiserver CPU s (schedstat)", dead.APIServerCPU, healthy.APIServerCPU, "%.3f")
	row("etcd CPU s (schedstat)", dead.EtcdCPU, healthy.EtcdCPU, "%.3f")
	row("apiserver+etcd % of a vCPU above idle", dead.AboveIdle, healthy.AboveIdle, "%.3f")
	row("agents' CPU s (all together)", dead.AgentsCPU, healthy.AgentsCPU, "%.3f")
	tw.Flush()
	fmt.Fprintf(w, "\nwhat the writes changed, dead: %s\n", summarize(dead.Changes))
	fmt.Fprintf(w, "what the writes changed, healthy: %s\n", summarize(healthy.Changes))
	fmt.Fprintln(w, "\ntargets:")
	for _, v := range r.verdicts() {
		state := "target met"
		if !v.Met {
			state = "target missed"
		}
		fmt.Fprintf(w, "  %-45s %s (target %s): %s\n", v.Name, v.Value, v.Target, state)
	}
}
