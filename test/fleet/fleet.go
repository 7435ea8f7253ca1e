package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/agent"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
	"github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned"
	informersv3 "github.com/calico-node-status/calico-node-status/pkg/generated/informers/externalversions/api/v3"
)

// Pattern is the write and watch pattern of the hollow agents.
type Pattern string

const (
	// Ours is the real agent: write on change only (no heartbeat: its Pod identity is in status.reporter
	// and the Pod's readiness says the status is current), one field-selected watch per node.
	Ours Pattern = "ours"
	// Original is the original's pattern: a full status PUT at every tick, and every node watching every
	// object. It runs the same reconciler with a heartbeat shorter than the period (so every collection
	// writes) plus one unfiltered watch of all objects per node, as the original's informer does.
	Original Pattern = "original"
)

// Options of one fleet run.
type Options struct {
	Nodes   int
	Pattern Pattern
	// Period is each object's updatePeriodSeconds.
	Period time.Duration
	// Window is the steady-state measurement; Idle the control plane's idle measurement before the fleet
	// starts.
	Window, Idle time.Duration
	// ChurnScale multiplies the scripted churn rates (a peer flap per node per hour, a route change per
	// node per 10 minutes): 60 makes them a flap per minute and a route change per 10 s.
	ChurnScale float64
	// Retrying is how many nodes have a peer retrying (Connect <-> Active with the same error).
	Retrying int
	// Restart restarts the API server (and etcd) after the window and measures the time until every agent
	// watches again.
	Restart bool
	// Heartbeat of our agents: 0 is none, as for the agent in its DaemonSet Pod (every hollow agent has a
	// Pod identity, podOf, so it records it in status.reporter and the Pod's readiness says the status is
	// current, issue 13 item 3); a positive value forces one (to measure what it costs).
	Heartbeat time.Duration
	// Classes of every object (v3.ManagedClasses() when nil: what `enable --all-nodes` creates, the
	// objects an always-on fleet has; Routes is for debugging one node).
	Classes []v3.NodeStatusClassType
	// PreWritten creates the objects with the status their agent would write (built from the snapshot
	// its fake BIRD serves), as after a rollout of a new agent version: the agents' first collections then
	// find nothing changed and write nothing.
	PreWritten bool
	// Profile, when set, is where a CPU profile of kube-apiserver over the window is written (pprof).
	Profile string
	// Captures is internal/bird/testdata/captures.
	Captures string
	Log      *slog.Logger
	// AgentLog receives the hollow agents' logs (nil: none; thousands of agents retrying through an API
	// server restart log a lot).
	AgentLog *slog.Logger
}

// Result of one fleet run. Durations in seconds or milliseconds as named; CPU in cores.
type Result struct {
	Nodes   int     `json:"nodes"`
	Pattern Pattern `json:"pattern"`
	// Classes of the objects, comma separated.
	Classes string  `json:"classes"`
	WindowS float64 `json:"windowS"`
	// IdleCores is kube-apiserver + etcd CPU before the fleet starts (objects created, no agent).
	IdleCores float64 `json:"idleCores"`
	// AboveIdleCores is their CPU during the window minus IdleCores.
	AboveIdleCores float64 `json:"aboveIdleCores"`
	WritesPerS     float64 `json:"writesPerS"`
	// BytesPerStatus is the mean JSON size of the objects written.
	BytesPerStatus float64 `json:"bytesPerStatus"`
	PutP50Ms       float64 `json:"putP50Ms"`
	PutP99Ms       float64 `json:"putP99Ms"`
	Puts           int     `json:"puts"`
	// ServerPutP50Ms and ServerPutP99Ms are the API server's own view (apiserver_request_duration_seconds,
	// bucket-interpolated), without the fleet process' scheduling delays.
	ServerPutP50Ms float64 `json:"serverPutP50Ms"`
	ServerPutP99Ms float64 `json:"serverPutP99Ms"`
	// TooManySteady are HTTP 429s during the window; TooManyTotal over the whole run (start, restart).
	TooManySteady int64  `json:"tooManySteady"`
	TooManyTotal  int64  `json:"tooManyTotal"`
	APIServerRSS  uint64 `json:"apiserverRSS"`
	// StartSyncedS: simultaneous start until every informer synced; StartWatchingS until every agent's
	// watch was answered.
	StartSyncedS   float64 `json:"startSyncedS"`
	StartWatchingS float64 `json:"startWatchingS"`
	// RestartWatchingS: from the restarted API server being up until every agent watches again (0: not
	// measured); RestartWatchingFromStopS from when it was stopped.
	RestartWatchingS         float64 `json:"restartWatchingS"`
	RestartWatchingFromStopS float64 `json:"restartWatchingFromStopS"`
	// WarmupWrites are the status writes from the simultaneous start until the window (every object's
	// first write without PreWritten; none with it).
	WarmupWrites int64 `json:"warmupWrites"`
	// FleetRSSPerAgent is (this process's RSS with the fleet running - before) / N: agent, client, informer
	// and its fake BIRD.
	FleetRSSPerAgent uint64 `json:"fleetRSSPerAgent"`
	// Churn events scripted during the window: Flaps (a peer lost; it comes back at a later toggle, half
	// an hour later on average), PeerChanges (downs and ups), RouteChanges (route table moves).
	Flaps        int64 `json:"flaps"`
	PeerChanges  int64 `json:"peerChanges"`
	RouteChanges int64 `json:"routeChanges"`
	// ChangesPerS are the scripted changes per second the objects' status shows (what write-on-change
	// writes at most): peer changes, plus route changes only when the objects have the Routes class (the
	// managed objects' Agent and BGP sections do not show routes; their agents do not even read them).
	ChangesPerS  float64 `json:"changesPerS"`
	BirdCommands uint64  `json:"birdCommands"`
	// AgentRequests is how many requests the agents made until the end of the window; InAgentFlowSchema how many of them the API
	// server's APF put in config/apf's FlowSchema (its UID in the response headers).
	AgentRequests     int64 `json:"agentRequests"`
	InAgentFlowSchema int64 `json:"inAgentFlowSchema"`
}

// Namespace and ServiceAccount are the agent's identity in config/rbac (the APF FlowSchema matches it).
const (
	Namespace      = "calico-node-status"
	ServiceAccount = "calico-node-status-agent"
)

// Run starts a control plane, the fleet, measures, and stops everything.
func Run(ctx context.Context, o Options) (res Result, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.AgentLog == nil {
		o.AgentLog = slog.New(slog.DiscardHandler)
	}
	if o.Classes == nil {
		o.Classes = v3.ManagedClasses()
	}
	res = Result{Nodes: o.Nodes, Pattern: o.Pattern, Classes: classesString(o.Classes), WindowS: o.Window.Seconds()}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		return res, err
	}
	defer func() {
		if serr := env.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	// The agents' identity: the service account's user name and groups (a client certificate, so no token
	// controller is needed), bound by config/rbac and matched by config/apf like the real DaemonSet's pods.
	for _, dir := range []string{"agent/namespace.yaml", "rbac", "apf"} {
		if _, err := env.Kubectl(ctx, "", "apply", applyFlag(dir), filepath.Join(env.RepoRoot, "config", dir)); err != nil {
			return res, fmt.Errorf("apply config/%s: %w", dir, err)
		}
	}
	fsUID, err := env.Kubectl(ctx, "", "get", "flowschema", ServiceAccount, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		return res, fmt.Errorf("read the agents' FlowSchema: %w", err)
	}
	sa, err := env.AddUser("system:serviceaccount:"+Namespace+":"+ServiceAccount, "system:serviceaccounts", "system:serviceaccounts:"+Namespace)
	if err != nil {
		return res, err
	}
	apiPIDs, err := controlPlanePIDs()
	if err != nil {
		return res, err
	}

	// Fake BIRDs.
	reps := make([]*replies, len(Flavours))
	for i, f := range Flavours {
		if reps[i], err = loadReplies(filepath.Join(o.Captures, f)); err != nil {
			return res, err
		}
	}
	sockDir, err := os.MkdirTemp("", "cns-fleet-")
	if err != nil {
		return res, fmt.Errorf("socket directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(sockDir) }()
	states := make([]*nodeState, o.Nodes)
	birds := make([]*fakeBird, o.Nodes)
	defer func() {
		for _, b := range birds {
			if b != nil {
				b.stop()
			}
		}
	}()
	for i := range o.Nodes {
		states[i] = &nodeState{retrying: i < o.Retrying}
		d := filepath.Join(sockDir, fmt.Sprint(i))
		if err := os.Mkdir(d, 0o700); err != nil {
			return res, fmt.Errorf("socket directory: %w", err)
		}
		if birds[i], err = startFakeBird(d, reps[i%len(reps)], states[i]); err != nil {
			return res, err
		}
	}

	// One object per node.
	var prewrite func(i int, obj *v3.CalicoNodeStatus) error
	if o.PreWritten {
		prewrite = func(i int, obj *v3.CalicoNodeStatus) error { return preWrite(ctx, env.Client, birds[i], obj) }
	}
	if err := createObjects(ctx, env.Client, o.Nodes, o.Period, o.Classes, prewrite); err != nil {
		return res, err
	}
	// Status writes from now on (the fleet's start and warm-up, then the window).
	wcCtx, stopWC := context.WithCancel(ctx)
	defer stopWC()
	wcl, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		return res, fmt.Errorf("admin watch client: %w", err)
	}

	// Idle control plane.
	idle, err := cpuOver(ctx, apiPIDs, o.Idle)
	if err != nil {
		return res, err
	}
	res.IdleCores = idle

	runtime.GC()
	memBefore, err := procstat.ReadMemory(os.Getpid())
	if err != nil {
		return res, err
	}
	rssBefore := memBefore.RSS

	// The fleet: every agent built, then all started at once.
	rec := newRecorder(o.Nodes)
	type hollow struct {
		ctrl  *agent.Controller
		extra cache.SharedIndexInformer // Original: the unfiltered watch of every object
	}
	hollows := make([]hollow, o.Nodes)
	heartbeat := o.Heartbeat
	if o.Pattern == Original {
		heartbeat = time.Nanosecond // every collection writes
	}
	for i := range o.Nodes {
		cfg := rest.CopyConfig(sa.Config)
		// The agent's defaults (cmd/calico-node-status-agent: --kube-api-qps 5, --kube-api-burst 10).
		cfg.QPS, cfg.Burst = 5, 10
		cfg.UserAgent = agent.FieldOwner
		// Its own dialer gives every hollow agent its own transport and TCP connection (client-go shares
		// one transport between configs that are equal), as separate nodes have.
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		cfg.Dial = d.DialContext
		idx := i
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return &recordingTransport{next: rt, rec: rec, agent: idx}
		})
		store, err := agent.NewKubeStore(cfg, nodeName(i))
		if err != nil {
			return res, err
		}
		src := &bird.Collector{V4Socket: birds[i].v4, V6Socket: birds[i].v6, MaxRoutes: v3.DefaultMaxRoutesPerFamily, Restrict: true}
		r := agent.NewReconciler(agent.Options{Store: store, NodeName: nodeName(i), Source: src, Heartbeat: heartbeat, Pod: podOf(nodeName(i))})
		ctrl, err := agent.NewController(r, store.Informer(), o.AgentLog)
		if err != nil {
			return res, err
		}
		hollows[i].ctrl = ctrl
		if o.Pattern == Original {
			if hollows[i].extra, err = unfilteredInformer(cfg); err != nil {
				return res, err
			}
		}
	}
	fctx, stopFleet := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stopFleet()
		wg.Wait()
	}()
	wc, err := startWriteCounter(wcCtx, wcl)
	if err != nil {
		return res, err
	}
	wStart := wc.n.Load()
	start := time.Now()
	for i := range hollows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hollows[i].ctrl.Run(fctx); err != nil && fctx.Err() == nil {
				o.Log.Error("hollow agent stopped", "node", nodeName(i), "err", err)
			}
		}()
		if inf := hollows[i].extra; inf != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inf.RunWithContext(fctx)
			}()
		}
	}
	syncDeadline := 5 * time.Minute
	if err := waitFor(ctx, syncDeadline, func() bool {
		for _, h := range hollows {
			if !h.ctrl.Synced() {
				return false
			}
		}
		return true
	}); err != nil {
		return res, fmt.Errorf("fleet of %d: informers not synced within %s: %w", o.Nodes, syncDeadline, err)
	}
	res.StartSyncedS = time.Since(start).Seconds()
	if err := waitFor(ctx, syncDeadline, func() bool { ok, _ := rec.allWatchingSince(start); return ok }); err != nil {
		_, n := rec.allWatchingSince(start)
		return res, fmt.Errorf("fleet of %d: only %d watching within %s: %w", o.Nodes, n, syncDeadline, err)
	}
	res.StartWatchingS = time.Since(start).Seconds()
	o.Log.Info("fleet watching", "nodes", o.Nodes, "synced_s", res.StartSyncedS, "watching_s", res.StartWatchingS)

	// Warm-up: every object written once and the first-write burst over (two periods).
	if err := sleepCtx(ctx, 2*o.Period+time.Second); err != nil {
		return res, err
	}

	// Steady state, with the scripted churn.
	res.WarmupWrites = wc.n.Load() - wStart
	churnCtx, stopChurn := context.WithCancel(fctx)
	defer stopChurn()
	var flaps, peerChanges, routes churnCount
	go churn(churnCtx, states, o, &flaps, &peerChanges, &routes)
	hist0, err := scrapePutHistogram(ctx, env.Config)
	if err != nil {
		return res, err
	}
	rec.resetPuts()
	rec.measuring.Store(true)
	w0 := wc.n.Load()
	b0 := wc.bytes.Load()
	profiled := make(chan error, 1)
	if o.Profile != "" {
		go func() { profiled <- profileAPIServer(ctx, env.Config, o.Window, o.Profile) }()
	} else {
		profiled <- nil
	}
	busy, err := cpuOver(ctx, apiPIDs, o.Window)
	if perr := <-profiled; perr != nil {
		o.Log.Warn("API server profile of the window", "err", perr)
	}
	rec.measuring.Store(false)
	stopChurn()
	if err != nil {
		return res, err
	}
	if hist1, err := scrapePutHistogram(ctx, env.Config); err == nil {
		res.ServerPutP50Ms, res.ServerPutP99Ms = 1000*hist1.quantile(hist0, 0.5), 1000*hist1.quantile(hist0, 0.99)
	} else {
		o.Log.Warn("API server metrics after the window", "err", err)
	}
	writes := wc.n.Load() - w0
	res.AboveIdleCores = busy - idle
	res.WritesPerS = float64(writes) / o.Window.Seconds()
	if writes > 0 {
		res.BytesPerStatus = float64(wc.bytes.Load()-b0) / float64(writes)
	}
	p50, p99, n := rec.putQuantiles()
	res.PutP50Ms, res.PutP99Ms, res.Puts = ms(p50), ms(p99), n
	res.TooManySteady = rec.tooManyIn.Load()
	res.Flaps, res.PeerChanges, res.RouteChanges = flaps.Load(), peerChanges.Load(), routes.Load()
	changes := res.PeerChanges
	if slices.Contains(o.Classes, v3.NodeStatusClassTypeRoutes) {
		changes += res.RouteChanges
	}
	res.ChangesPerS = float64(changes) / o.Window.Seconds()
	for _, b := range birds {
		res.BirdCommands += b.commands.Load()
	}
	if mem, err := procstat.ReadMemory(apiPIDs[0]); err == nil {
		res.APIServerRSS = mem.RSS
	}
	if mem, err := procstat.ReadMemory(os.Getpid()); err == nil && mem.RSS > rssBefore {
		res.FleetRSSPerAgent = (mem.RSS - rssBefore) / uint64(o.Nodes)
	}

	// Before the restart: while a restarted API server loads its configuration it classifies requests
	// with its built-in schemas.
	res.AgentRequests = rec.requests.Load()
	res.InAgentFlowSchema = rec.flowSchemaCounts()[strings.TrimSpace(fsUID)]

	if o.Restart {
		stopAt := time.Now()
		if err := env.StopControlPlane(ctx); err != nil {
			return res, err
		}
		if err := env.StartControlPlane(ctx); err != nil {
			return res, err
		}
		upAt := time.Now()
		deadline := 5 * time.Minute
		// A watch answered after the stop is one on the restarted server; it may come before
		// StartControlPlane returns (which polls the server's health).
		if err := waitFor(ctx, deadline, func() bool { ok, _ := rec.allWatchingSince(stopAt); return ok }); err != nil {
			_, n := rec.allWatchingSince(stopAt)
			return res, fmt.Errorf("fleet of %d after the API server restart: only %d watching within %s: %w", o.Nodes, n, deadline, err)
		}
		res.RestartWatchingS = max(0, time.Since(upAt).Seconds())
		res.RestartWatchingFromStopS = time.Since(stopAt).Seconds()
	}
	res.TooManyTotal = rec.tooMany.Load()
	return res, nil
}

func classesString(cs []v3.NodeStatusClassType) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ",")
}

func nodeName(i int) string { return fmt.Sprintf("hollow-%05d", i) }

// podOf is the Pod identity of a hollow node's agent, as the downward API gives the real one.
func podOf(node string) agent.PodRef {
	return agent.PodRef{Name: "calico-node-status-agent-" + node, Namespace: "calico-node-status", UID: "uid-" + node}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func jsonSize(o *v3.CalicoNodeStatus) (int, error) {
	b, err := json.Marshal(o)
	return len(b), err
}

func controlPlanePIDs() ([]int, error) {
	api, err := procstat.ChildrenNamed("kube-apiserver")
	if err != nil {
		return nil, err
	}
	etcd, err := procstat.ChildrenNamed("etcd")
	if err != nil {
		return nil, err
	}
	if len(api) != 1 || len(etcd) != 1 {
		return nil, fmt.Errorf("find the control plane among this process' children: %d kube-apiserver, %d etcd", len(api), len(etcd))
	}
	return []int{api[0], etcd[0]}, nil
}

// cpuOver measures the processes' CPU over d, in cores.
func cpuOver(ctx context.Context, pids []int, d time.Duration) (float64, error) {
	c0, err := procstat.CPU(pids)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := sleepCtx(ctx, d); err != nil {
		return 0, err
	}
	c1, err := procstat.CPU(pids)
	if err != nil {
		return 0, err
	}
	return (c1 - c0).Seconds() / time.Since(t0).Seconds(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("deadline exceeded")
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

type churnCount = atomic.Int64

// churn scripts each node's BIRD: a peer flap (down, then up again half an interval later) per
// flap interval and a route change per route interval, at random offsets so the fleet's events spread out.
func churn(ctx context.Context, states []*nodeState, o Options, flaps, peerChanges, routes *churnCount) {
	flapEvery := time.Duration(float64(time.Hour) / o.ChurnScale)
	routeEvery := time.Duration(float64(10*time.Minute) / o.ChurnScale)
	// Each node toggles its peer at rate 2/flapEvery and its routes at 1/routeEvery: a Poisson process per
	// node, simulated by one ticker for the fleet.
	tick := 100 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	pFlap := 2 * tick.Seconds() / flapEvery.Seconds()
	pRoute := tick.Seconds() / routeEvery.Seconds()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, st := range states {
			if rand.Float64() < pFlap {
				down := !st.peerDown.Load()
				st.peerDown.Store(down)
				peerChanges.Add(1)
				if down {
					flaps.Add(1)
				}
			}
			if rand.Float64() < pRoute {
				st.routeChanged.Store(!st.routeChanged.Load())
				routes.Add(1)
			}
		}
	}
}

// unfilteredInformer is the original's watch: every CalicoNodeStatus of the cluster, on the node's
// client.
func unfilteredInformer(cfg *rest.Config) (cache.SharedIndexInformer, error) {
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for the unfiltered watch: %w", err)
	}
	return informersv3.NewCalicoNodeStatusInformer(cs, 0, cache.Indexers{}), nil
}

// applyFlag is kubectl's flag for a kustomization directory (-k) or a file (-f).
func applyFlag(path string) string {
	if filepath.Ext(path) == ".yaml" {
		return "-f"
	}
	return "-k"
}

// preWrite gives obj the status its agent would write now: the node's fake BIRD read by the agent's
// collector as the agent reads it, built and made the desired status by internal/status as the
// reconciler does (a restarted agent's flap history starts from what the status holds, so it adds
// nothing either).
func preWrite(ctx context.Context, cl client.Client, b *fakeBird, obj *v3.CalicoNodeStatus) error {
	c := &bird.Collector{V4Socket: b.v4, V6Socket: b.v6, MaxRoutes: v3.DefaultMaxRoutesPerFamily, Restrict: true}
	snap := c.Collect(ctx, needOf(obj.Spec.Classes))
	st := status.Desired(obj, status.Build(snap, obj.Spec.Classes, status.Options{}))
	st.LastUpdated = metav1.NewTime(time.Now().UTC())
	pod := podOf(obj.Spec.Node)
	st.Reporter = &v3.StatusReporter{Pod: pod.Name, Namespace: pod.Namespace, UID: pod.UID}
	obj.Status = st
	if err := cl.Status().Update(ctx, obj, client.FieldOwner(agent.FieldOwner)); err != nil {
		return fmt.Errorf("pre-write status of %s: %w", obj.Name, err)
	}
	return nil
}

// createObjects creates one object per node, a few at a time (5000 one by one take minutes).
func createObjects(ctx context.Context, cl client.Client, n int, period time.Duration, classes []v3.NodeStatusClassType, prewrite func(int, *v3.CalicoNodeStatus) error) error {
	const workers = 8
	errs := make(chan error, workers)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: nodeName(i)}, Spec: v3.CalicoNodeStatusSpec{
					Node:                nodeName(i),
					Classes:             classes,
					UpdatePeriodSeconds: ptr.To(int32(period / time.Second)),
				}}
				err := cl.Create(ctx, obj)
				if err != nil {
					err = fmt.Errorf("create object %s: %w", obj.Name, err)
				} else if prewrite != nil {
					err = prewrite(i, obj)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
