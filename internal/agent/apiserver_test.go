package agent

// Tier "API": the reconciler runs in its Controller (informer + workqueue) against a real kube-apiserver + etcd
// (internal/testenv); writes, watches, field selectors, conflicts and Events are the API server's own.
// BIRD is replaced by scripted snapshots here so that changes happen exactly when a test says; the e2e
// tier (test/e2e) runs the agent binary against real BIRD daemons.

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	typedv3 "github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned/typed/api/v3"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Options{})) }

// scriptedSource serves a snapshot the test sets, and counts collections.
type scriptedSource struct {
	mu    sync.Mutex
	snap  bird.Snapshot
	calls int
	times []time.Time
	hook  func() // run once during the next collection, then cleared
}

func (s *scriptedSource) Collect(_ context.Context, _ bird.Need) bird.Snapshot {
	s.mu.Lock()
	hook := s.hook
	s.hook = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.times = append(s.times, time.Now())
	return s.snap
}

func (s *scriptedSource) set(snap bird.Snapshot) { s.mu.Lock(); s.snap = snap; s.mu.Unlock() }
func (s *scriptedSource) count() int             { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }
func (s *scriptedSource) setHook(h func())       { s.mu.Lock(); s.hook = h; s.mu.Unlock() }

// nodeSnapshot is a small Calico node: two mesh peers (the second one's state given), kernel, device,
// direct and static protocols, and routes from each.
func nodeSnapshot(routerID string, peer2State string) bird.Snapshot {
	bgp := func(name, ip, state, info string) bird.Protocol {
		proto := "up"
		if state != "Established" {
			proto = "start"
		}
		return bird.Protocol{Name: name, Kind: "BGP", Table: "master", State: proto, Since: "2026-11-24 09:00:00", Info: info,
			BGP: &bird.BGPSession{State: state, Neighbor: netip.MustParseAddr(ip), NeighborAS: 64512, LocalAS: 64512, HoldTime: 90 * time.Second}}
	}
	info2 := "Established"
	if peer2State != "Established" {
		info2 = peer2State + " Socket: Connection refused"
	}
	v4 := bird.DaemonSnapshot{
		Family: bird.IPv4, Socket: "bird.ctl",
		Status: &bird.Status{Version: "1.6.8", Major: 1, RouterID: routerID, BootTime: "2026-11-24 08:00:00", LastReconfiguration: "2026-11-24 08:00:00", Up: true, Message: "Daemon is up and running"},
		Protocols: []bird.Protocol{
			bgp("Mesh_10_0_0_2", "10.0.0.2", "Established", "Established"),
			bgp("Mesh_10_0_0_3", "10.0.0.3", peer2State, info2),
			{Name: "kernel1", Kind: "Kernel", State: "up"}, {Name: "device1", Kind: "Device", State: "up"},
			{Name: "direct1", Kind: "Direct", State: "up"}, {Name: "static1", Kind: "Static", State: "up"},
		},
		Routes: []bird.Route{
			{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Primary: true, NextHops: []bird.NextHop{{Gateway: netip.MustParseAddr("10.0.0.254"), Interface: "eth0"}}, Protocol: "kernel1"},
			{Prefix: netip.MustParsePrefix("10.0.0.0/24"), Primary: true, NextHops: []bird.NextHop{{Interface: "eth0"}}, Protocol: "direct1"},
			{Prefix: netip.MustParsePrefix("192.168.1.0/26"), Primary: true, NextHops: []bird.NextHop{{Gateway: netip.MustParseAddr("10.0.0.2"), Interface: "eth0"}}, Protocol: "Mesh_10_0_0_2"},
			{Prefix: netip.MustParsePrefix("192.168.9.0/26"), Primary: true, Kind: bird.RouteBlackhole, Protocol: "static1"},
		},
	}
	v6 := bird.DaemonSnapshot{Family: bird.IPv6, Socket: "bird6.ctl",
		Status: &bird.Status{Version: "1.6.8", Major: 1, RouterID: routerID, Up: true, Message: "Daemon is up and running"}}
	return bird.Snapshot{V4: v4, V6: v6}
}

// runningAgent is an agent started by startAgent.
type runningAgent struct {
	r       *Reconciler
	src     *scriptedSource
	metrics *Metrics
	reg     *prometheus.Registry
	ctrl    *Controller
	checker *APIChecker         // nil unless agentSetup.besideCalico
	logs    *testenv.SyncBuffer // its JSON log, shown when the test fails
	cancel  context.CancelFunc
	done    chan struct{} // closed when the controller returned, with its error in err
	err     error
}

func (a *runningAgent) stop(t *testing.T) {
	t.Helper()
	a.cancel()
	select {
	case <-a.done:
		if a.err != nil {
			t.Errorf("manager stopped with %v", a.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop within 30 s")
	}
}

// agentSetup is how startAgent wires an agent; the zero value is the plain agent with the default
// heartbeat and mapping.
type agentSetup struct {
	heartbeat time.Duration  // Options.Heartbeat (0: the default)
	collect   status.Options // the mapping's options (caps)
	// besideCalico wires the agent as cmd/calico-node-status-agent does: with the API checker on the
	// watch and the writes.
	besideCalico     bool
	otherWriterQuiet time.Duration  // Options.OtherWriterQuiet (0: the default)
	edit             func(*Options) // last word on the reconciler's options
}

// startAgentOpts is startAgent with the reconciler's options edited by edit.
func startAgentOpts(t *testing.T, env *testenv.Env, node string, src *scriptedSource, edit func(*Options)) *runningAgent {
	t.Helper()
	return startAgent(t, env, node, src, agentSetup{edit: edit})
}

// startAgent runs a Reconciler in its Controller against env's API server for node, with BIRD replaced
// by src; the agent stops when the test ends.
func startAgent(t *testing.T, env *testenv.Env, node string, src *scriptedSource, setup agentSetup) *runningAgent {
	t.Helper()
	logs := &testenv.SyncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	store, err := NewKubeStore(env.Config, node)
	if err != nil {
		t.Fatal(err)
	}
	events, err := NewKubeEvents(env.Config, node, log)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	// These tests count collections per period of 1 s: no floor between route-table reads here
	// (TestFullTableReadsAreSpacedByTheFloorInterval covers it).
	opts := Options{Store: store, NodeName: node, Source: src, Events: events, Metrics: m, Heartbeat: setup.heartbeat, Log: log,
		Collect: setup.collect, OtherWriterQuiet: setup.otherWriterQuiet, MinFullTableInterval: time.Millisecond}
	var checker *APIChecker
	if setup.besideCalico {
		checker, err = NewAPIChecker(env.Config, log, m)
		if err != nil {
			t.Fatal(err)
		}
		checker.MinBackoff, checker.MaxBackoff = 200*time.Millisecond, 2*time.Second
		store.APIChecker = checker
		opts.APIChecker = checker
	}
	if setup.edit != nil {
		setup.edit(&opts)
	}
	r := NewReconciler(opts)
	ctrl, err := NewController(r, store.Informer(), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &runningAgent{r: r, src: src, metrics: m, reg: reg, ctrl: ctrl, checker: checker, logs: logs, cancel: cancel, done: make(chan struct{})}
	checked := make(chan struct{})
	if checker != nil {
		go func() { checker.Run(ctx); close(checked) }()
	} else {
		close(checked)
	}
	go func() {
		a.err = ctrl.Run(ctx)
		close(a.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-a.done
		<-checked
		if t.Failed() {
			t.Logf("agent %s log:\n%s", node, logs.String())
		}
	})
	return a
}

func classesAll() []v3.NodeStatusClassType {
	return []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}
}

// cns is the admin client of CalicoNodeStatus objects (the generated clientset).
func cns(env *testenv.Env) typedv3.CalicoNodeStatusInterface {
	return env.Clientset.ProjectcalicoV3().CalicoNodeStatuses()
}

func createObject(t *testing.T, c typedv3.CalicoNodeStatusInterface, name, node string, period int32, classes []v3.NodeStatusClassType) *v3.CalicoNodeStatus {
	t.Helper()
	o := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.CalicoNodeStatusSpec{Node: node, Classes: classes, UpdatePeriodSeconds: &period}}
	created, err := c.Create(context.Background(), o, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return created
}

// waitCollected waits until the agent has written a status for o's current generation.
func waitCollected(t *testing.T, c typedv3.CalicoNodeStatusInterface, o *v3.CalicoNodeStatus) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "first collection of "+o.Name, func() bool { return collectedFor(get(t, c, o.Name)) })
}

func get(t *testing.T, c typedv3.CalicoNodeStatusInterface, name string) *v3.CalicoNodeStatus {
	t.Helper()
	o, err := c.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func collectedFor(o *v3.CalicoNodeStatus) bool {
	return o.Status.ObservedGeneration == o.Generation && meta.FindStatusCondition(o.Status.Conditions, v3.ConditionReady) != nil
}

// watchWrites counts the Modified events of one object from its current resourceVersion on.
func watchWrites(t *testing.T, env *testenv.Env, o *v3.CalicoNodeStatus) func() int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := cns(env).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + o.Name, ResourceVersion: o.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type == watch.Modified {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.Stop)
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func TestAPIServer_AgentFillsOwnNodeOnlyAndWritesOnlyOnChange(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	src := &scriptedSource{snap: nodeSnapshot("10.0.0.1", "Established")}
	a := startAgent(t, env, "wc-node-1", src, agentSetup{heartbeat: time.Hour})

	mine := createObject(t, c, "wc-mine", "wc-node-1", 1, classesAll())
	other := createObject(t, c, "wc-other", "wc-node-2", 1, classesAll())

	waitCollected(t, c, mine)
	got := get(t, c, mine.Name)
	want := status.Build(src.snap, classesAll(), status.Options{})
	// The reporter: no Pod here, and the heartbeat the test gave.
	reporter := &v3.StatusReporter{HeartbeatSeconds: 3600}
	if !status.SameContent(v3.CalicoNodeStatusStatus{Agent: want.Agent, BGP: want.BGP, Routes: want.Routes, ObservedGeneration: got.Generation, Conditions: got.Status.Conditions, Reporter: reporter}, got.Status) {
		t.Fatalf("status differs from the mapping of the snapshot:\n got %+v\nwant %+v", got.Status, want)
	}
	if r := meta.FindStatusCondition(got.Status.Conditions, v3.ConditionReady); r.Status != metav1.ConditionTrue {
		t.Fatalf("Ready = %+v", r)
	}

	// Nothing changes for several periods: no write.
	writes := watchWrites(t, env, got)
	base := src.count()
	testenv.Eventually(t, 20*time.Second, "four more collections", func() bool { return src.count() >= base+4 })
	if n := writes(); n != 0 {
		t.Fatalf("%d status writes while nothing changed; want 0", n)
	}
	if n := testutil.ToFloat64(a.metrics.unchanged); n < 4 {
		t.Fatalf("status_unchanged_total = %v, want >= 4", n)
	}

	// A peer goes down: one write, one Event, metrics follow.
	src.set(nodeSnapshot("10.0.0.1", "Active"))
	testenv.Eventually(t, 20*time.Second, "the peer going down to show", func() bool {
		b := get(t, c, mine.Name).Status.BGP
		return b != nil && b.NumberEstablishedV4 == 1
	})
	base = src.count()
	testenv.Eventually(t, 20*time.Second, "three more collections", func() bool { return src.count() >= base+3 })
	if n := writes(); n != 1 {
		t.Fatalf("%d status writes for one change; want 1", n)
	}
	testenv.Eventually(t, 20*time.Second, "a PeerDown event", func() bool {
		evs, err := env.Kube.EventsV1().Events("").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs.Items {
			if e.Regarding.Name == mine.Name && e.Reason == EventPeerDown {
				n++
			}
		}
		return n == 1
	})
	if v := testutil.ToFloat64(a.metrics.peers.WithLabelValues("IPv4", "true")); v != 1 {
		t.Fatalf("bgp_peers{IPv4,established} = %v, want 1", v)
	}
	if v := testutil.ToFloat64(a.metrics.peerState.WithLabelValues("IPv4", "10.0.0.3", "NodeMesh", "Mesh_10_0_0_3", "Active")); v != 1 {
		t.Fatalf("bgp_peer_state for the downed peer = %v, want 1", v)
	}

	if o := get(t, c, other.Name); o.Status.LastUpdated.Time != (time.Time{}) || o.Status.BGP != nil {
		t.Fatalf("the agent of wc-node-1 wrote an object of wc-node-2: %+v", o.Status)
	}
}

func TestAPIServer_AgentHonoursSpecChangesAtOnceAndHandsOverMovedObjects(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	src1 := &scriptedSource{snap: nodeSnapshot("10.1.0.1", "Established")}
	src2 := &scriptedSource{snap: nodeSnapshot("10.1.0.2", "Established")}
	a1 := startAgent(t, env, "sc-node-1", src1, agentSetup{heartbeat: time.Hour})
	a2 := startAgent(t, env, "sc-node-2", src2, agentSetup{heartbeat: time.Hour})

	// A long period, so anything that happens within the test happened because of the change.
	o := createObject(t, c, "sc-obj", "sc-node-1", 3600, classesAll())
	waitCollected(t, c, o)

	cur := get(t, c, o.Name)
	cur.Spec.Classes = []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}
	if _, err := c.Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "classes change to take effect", func() bool {
		g := get(t, c, o.Name)
		return collectedFor(g) && g.Status.Agent == nil && g.Status.Routes == nil && g.Status.BGP != nil
	})

	// Period 0: collected once, condition says refresh is disabled, later BIRD changes are not written.
	cur = get(t, c, o.Name)
	zero := int32(0)
	cur.Spec.UpdatePeriodSeconds = &zero
	if _, err := c.Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "Refreshing=False/RefreshDisabled", func() bool {
		g := get(t, c, o.Name)
		r := meta.FindStatusCondition(g.Status.Conditions, v3.ConditionRefreshing)
		return collectedFor(g) && r != nil && r.Status == metav1.ConditionFalse && r.Reason == v3.ReasonRefreshDisabled
	})
	frozen := get(t, c, o.Name)
	src1.set(nodeSnapshot("10.1.0.1", "Active"))
	driver := createObject(t, c, "sc-driver", "sc-node-1", 1, classesAll()) // keeps node 1 collecting
	base := src1.count()
	testenv.Eventually(t, 20*time.Second, "node 1 to collect three times", func() bool { return src1.count() >= base+3 })
	if g := get(t, c, o.Name); g.ResourceVersion != frozen.ResourceVersion {
		t.Fatalf("an object with updatePeriodSeconds 0 was rewritten: %+v", g.Status.BGP)
	}
	_ = driver

	// Move to node 2: node 2's agent takes over at once, node 1's stops.
	cur = get(t, c, o.Name)
	one := int32(1)
	cur.Spec.Node, cur.Spec.UpdatePeriodSeconds = "sc-node-2", &one
	if _, err := c.Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "node 2 to take over", func() bool {
		g := get(t, c, o.Name)
		return collectedFor(g) && g.Status.BGP != nil && g.Status.BGP.NumberEstablishedV4 == 2
	})
	testenv.Eventually(t, 20*time.Second, "node 1 to forget the moved object", func() bool {
		a1.r.mu.Lock()
		defer a1.r.mu.Unlock()
		_, ok := a1.r.objects[o.Name]
		return !ok
	})
	base = src1.count()
	testenv.Eventually(t, 20*time.Second, "node 1 to collect three more times", func() bool { return src1.count() >= base+3 })
	if g := get(t, c, o.Name); g.Status.BGP.NumberEstablishedV4 != 2 {
		t.Fatalf("node 1's agent (one peer down) wrote an object that moved to node 2: %+v", g.Status.BGP)
	}

	// Delete: node 2 stops working on it.
	if err := c.Delete(context.Background(), o.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "node 2 to forget the deleted object", func() bool {
		a2.r.mu.Lock()
		defer a2.r.mu.Unlock()
		_, ok := a2.r.objects[o.Name]
		return !ok
	})
}

func TestAPIServer_AgentSharesOneQueryPerPeriodAcrossObjects(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	src := &scriptedSource{snap: nodeSnapshot("10.2.0.1", "Established")}
	startAgent(t, env, "sh-node", src, agentSetup{heartbeat: time.Hour})
	const objects = 5
	for i := 0; i < objects; i++ {
		createObject(t, c, fmt.Sprintf("sh-obj-%d", i), "sh-node", 1, classesAll())
	}
	testenv.Eventually(t, 30*time.Second, "all objects collected", func() bool {
		for i := 0; i < objects; i++ {
			if !collectedFor(get(t, c, fmt.Sprintf("sh-obj-%d", i))) {
				return false
			}
		}
		return true
	})
	base, start := src.count(), time.Now()
	testenv.Eventually(t, 30*time.Second, "six more collections", func() bool { return src.count() >= base+6 })
	elapsed := time.Since(start)
	// One query per 1 s period for all five objects: six queries take about five periods. One query per
	// object would take about one.
	if periods := elapsed.Seconds(); periods < 4 {
		t.Fatalf("six collections in %.1f s for %d objects with a 1 s period: queries are not shared", periods, objects)
	}
}

func TestAPIServer_AgentRetriesAConflictOnFreshData(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	src := &scriptedSource{snap: nodeSnapshot("10.3.0.1", "Established")}
	a := startAgent(t, env, "cf-node", src, agentSetup{heartbeat: time.Hour})
	o := createObject(t, c, "cf-obj", "cf-node", 1, classesAll())
	waitCollected(t, c, o)

	// While the next collection runs, someone else changes the object (not its spec), so the agent's
	// write, made with the resourceVersion it read, conflicts.
	src.setHook(func() {
		patch := []byte(`{"metadata":{"annotations":{"touched-by":"someone-else"}}}`)
		if _, err := c.Patch(context.Background(), o.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Errorf("patch annotation: %v", err)
		}
	})
	src.set(nodeSnapshot("10.3.0.1", "Active"))
	testenv.Eventually(t, 20*time.Second, "the change to be written despite the conflict", func() bool {
		g := get(t, c, o.Name)
		return g.Status.BGP != nil && g.Status.BGP.NumberEstablishedV4 == 1
	})
	if n := testutil.ToFloat64(a.metrics.conflicts); n < 1 {
		t.Fatalf("status_write_conflicts_total = %v; the write did not conflict, so the test proved nothing", n)
	}
	if g := get(t, c, o.Name); g.Annotations["touched-by"] != "someone-else" {
		t.Fatalf("the other writer's change was lost: %v", g.Annotations)
	}
}

func TestAPIServer_AgentRestartWithNothingChangedDoesNotWrite(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	src := &scriptedSource{snap: nodeSnapshot("10.4.0.1", "Established")}
	first := startAgent(t, env, "rs-node", src, agentSetup{heartbeat: time.Hour})
	o := createObject(t, c, "rs-obj", "rs-node", 1, classesAll())
	waitCollected(t, c, o)
	first.stop(t)

	before := get(t, c, o.Name)
	writes := watchWrites(t, env, before)
	src2 := &scriptedSource{snap: src.snap}
	startAgent(t, env, "rs-node", src2, agentSetup{heartbeat: time.Hour})
	testenv.Eventually(t, 20*time.Second, "the restarted agent to collect three times", func() bool { return src2.count() >= 3 })
	if n := writes(); n != 0 {
		t.Fatalf("restarted agent wrote %d times with nothing changed", n)
	}
}

func TestAPIServer_AgentHeartbeatAdvancesLastUpdated(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	src := &scriptedSource{snap: nodeSnapshot("10.5.0.1", "Established")}
	a := startAgent(t, env, "hb-node", src, agentSetup{heartbeat: 2 * time.Second})
	o := createObject(t, c, "hb-obj", "hb-node", 1, classesAll())
	waitCollected(t, c, o)
	first := get(t, c, o.Name).Status.LastUpdated
	testenv.Eventually(t, 20*time.Second, "a heartbeat write", func() bool {
		return get(t, c, o.Name).Status.LastUpdated.After(first.Time)
	})
	// The agent counts a write after the API server answered it, so the test can see the new lastUpdated
	// a moment before the counter moves (seen once on a loaded machine): wait for the counter too, and
	// check the write was not counted as a change (the scripted snapshot never changes).
	testenv.Eventually(t, 20*time.Second, "status_writes_total{reason=heartbeat} >= 1", func() bool {
		return testutil.ToFloat64(a.metrics.writes.WithLabelValues("heartbeat")) >= 1
	})
	if n := testutil.ToFloat64(a.metrics.writes.WithLabelValues("changed")); n != 1 {
		t.Fatalf("status_writes_total{reason=changed} = %v, want 1 (the first write; nothing changed after it)", n)
	}
}

func TestAPIServer_AgentReportsAnUnreachableDaemonPerSectionAndRecovers(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	healthy := nodeSnapshot("10.6.0.1", "Established")
	broken := healthy
	dialErr := fmt.Errorf("dial unix /var/run/calico/bird6.ctl: %w", os.ErrNotExist)
	broken.V6 = bird.DaemonSnapshot{Family: bird.IPv6, Socket: "bird6.ctl", StatusErr: dialErr, ProtocolsErr: dialErr, RoutesErr: dialErr}
	src := &scriptedSource{snap: broken}
	startAgent(t, env, "ur-node", src, agentSetup{heartbeat: time.Hour})
	o := createObject(t, c, "ur-obj", "ur-node", 1, classesAll())
	waitCollected(t, c, o)

	g := get(t, c, o.Name)
	r := meta.FindStatusCondition(g.Status.Conditions, v3.ConditionReady)
	if r.Status != metav1.ConditionFalse || r.Reason != v3.ReasonDaemonUnreachable {
		t.Fatalf("Ready = %s/%s, want False/DaemonUnreachable", r.Status, r.Reason)
	}
	if g.Status.Agent.BIRDV6 == nil || g.Status.Agent.BIRDV6.State != v3.BGPDaemonStateNotReady {
		t.Fatalf("birdV6 = %+v, want NotReady", g.Status.Agent.BIRDV6)
	}
	if g.Status.Agent.BIRDV4 == nil || g.Status.Agent.BIRDV4.State != v3.BGPDaemonStateReady || g.Status.BGP.NumberEstablishedV4 != 2 {
		t.Fatalf("the IPv4 family was degraded by the IPv6 failure: %+v %+v", g.Status.Agent.BIRDV4, g.Status.BGP)
	}
	for name, issues := range map[string][]v3.StatusIssue{"bgp": g.Status.BGP.Issues, "routes": g.Status.Routes.Issues} {
		if len(issues) == 0 || issues[0].Family != v3.IPFamilyV6 || issues[0].Reason != v3.ReasonDaemonUnreachable {
			t.Fatalf("%s section does not carry the IPv6 reason: %+v", name, issues)
		}
	}

	src.set(healthy)
	testenv.Eventually(t, 20*time.Second, "recovery to Ready", func() bool {
		g := get(t, c, o.Name)
		r := meta.FindStatusCondition(g.Status.Conditions, v3.ConditionReady)
		return r.Status == metav1.ConditionTrue && len(g.Status.BGP.Issues) == 0
	})
}
