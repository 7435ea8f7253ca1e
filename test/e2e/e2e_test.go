package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// Tier "e2e": real kube-apiserver + etcd, a real BIRD lab of 3 nodes, one agent process per node. Each
// BIRD version gets one lab and one set of agents, shared by its subtests, which run in order and leave
// the lab as they found it (or wait until it is healthy again).

// fixture is one BIRD flavour's lab with its agents.
type fixture struct {
	env     *testenv.Env
	lab     *birdLab
	obj     objects
	dir     string
	agents  []*agentProc // per lab node
	flavour lab.Flavour
}

func (f *fixture) name(what string) string {
	return fmt.Sprintf("e2e-b%s-%s", f.flavour.Tag, strings.ToLower(what))
}

// crossVersion keeps node1's status of each BIRD flavour's example for the SameStatus tests.
var crossVersion = struct {
	sync.Mutex
	status map[string]v3.CalicoNodeStatusStatus // by lab.Flavour.Name
}{status: map[string]v3.CalicoNodeStatusStatus{}}

func TestE2E_BIRD16_RealLabAgents(t *testing.T) { runSuite(t, lab.Bird1) }

func TestE2E_BIRD2_RealLabAgents(t *testing.T) { runSuite(t, lab.Bird2) }

// TestE2E_CalicoBIRD_RealLabAgents runs the suite on Calico's BIRD fork when a build is given
// (CNS_CALICO_BIRD, or $CNS_CACHE_DIR/calico-bird: test/lab/README.md).
func TestE2E_CalicoBIRD_RealLabAgents(t *testing.T) {
	if _, ok := lab.CalicoBird(t); !ok {
		t.Skip("no Calico BIRD build: set CNS_CALICO_BIRD or build one into $CNS_CACHE_DIR/calico-bird (test/lab/README.md)")
	}
	runSuite(t, lab.Calico)
}

func runSuite(t *testing.T, flavour lab.Flavour) {
	env := testenv.Shared(t)
	dir := t.TempDir()
	l := lab.Start(t, flavour.Options(lab.Options{Name: "e2eb" + flavour.Tag, Nodes: 3}))
	f := &fixture{env: env, lab: newBirdLab(t, l), obj: objects{env: env}, dir: dir, flavour: flavour}
	for i, n := range l.Nodes {
		f.agents = append(f.agents, startAgent(t, dir, agentConfig{node: f.lab.k8sNode(i), kubeconfig: env.Kubeconfig,
			sock4: n.Socket4, sock6: n.Socket6}))
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"ExampleYAMLMatchesBIRD", f.testExample},
		{"RetryingPeersNoWrites", f.testRetryingPeersNoWrites},
		{"ClassesAndPeriodChange", f.testClassesAndPeriod},
		{"PeriodZero", f.testPeriodZero},
		{"Delete", f.testDelete},
		{"MoveNode", f.testMoveNode},
		{"QuietThenPeerDown", f.testQuietThenPeerDown},
		{"AgentRestartedNothingChanged", f.testAgentRestart},
		{"Fault_DeletedOrEditedDuringCollection", f.testDuringCollection},
		// The control plane is the same for both versions: restarted once, in the BIRD 2 suite.
		{"Fault_ControlPlaneRestarted", f.testControlPlaneRestart},
		{"Fault_BIRDKilledAndBack", f.testBIRDKilled},
		{"Fault_SocketAbsentAtStart", f.testSocketAbsentAtStart},
	} {
		if tc.name == "Fault_ControlPlaneRestarted" && flavour != lab.Bird2 {
			continue
		}
		if !t.Run(tc.name, tc.run) {
			// Later subtests assume the lab and agents are as the earlier ones left them.
			t.Logf("stopping after %s failed", tc.name)
			return
		}
	}
}

// reconciles is how many collections an agent finished for its objects (each ends in a write or in
// "unchanged").
func reconciles(t testing.TB, a *agentProc) float64 {
	t.Helper()
	m := a.scrape(t)
	return m.get("calico_node_status_status_writes_total") + m.get("calico_node_status_status_unchanged_total")
}

// matchBIRD checks obj (all classes, node i) against what BIRD says on node i now: the same status as
// the test's own collection through internal/bird and internal/status, and, through birdc, the router ID,
// every peer's IP, type and state, the route counts, and known routes: a ToR route (FIB, BGPPeer, via the
// ToR) and a mesh route (FIB, NodeMesh, via the next node) per family.
func (f *fixture) matchBIRD(t testing.TB, i int, obj *v3.CalicoNodeStatus) (bool, string) {
	t.Helper()
	l := f.lab
	st := obj.Status
	if st.Agent == nil || st.BGP == nil || st.Routes == nil {
		return false, "a section is missing: " + brief(obj)
	}
	s := ours(l, i, allClasses)
	alignJitter(st, &s)
	if got, want := sectionsContent(st.Agent, st.BGP, st.Routes), sectionsContent(s.Agent, s.BGP, s.Routes); got != want {
		return false, "status differs from the test's own collection now (- agent's, + ours):\n" + lineDiff(got, want)
	}
	// birdc: daemon.
	for _, v6 := range []bool{false, true} {
		d := st.Agent.BIRDV4
		if v6 {
			d = st.Agent.BIRDV6
		}
		out := l.birdc(t, i, l.protoSocketV6(v6), "show", "status")
		if d == nil || d.State != v3.BGPDaemonStateReady || !strings.Contains(out, "Router ID is "+d.RouterID+"\n") ||
			d.RouterID != l.Nodes[i].IP4 || !strings.Contains(out, d.Version) {
			return false, fmt.Sprintf("daemon (v6 %t) %+v; birdc show status:\n%s", v6, d, out)
		}
	}
	// birdc: peers.
	var fromBirdc [2][]string
	var estBirdc [2]int
	for _, v6 := range []bool{false, true} {
		if v6 && l.Bird == 2 {
			break
		}
		peers, err := birdcPeers(l.birdc(t, i, v6, "show", "protocols", "all"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range peers {
			fam := 0
			if p.ip.Is6() {
				fam = 1
			}
			state := contractState(p.state)
			if state == v3.BGPSessionStateEstablished {
				estBirdc[fam]++
			}
			if deadPeers[p.ip.String()] && (state == v3.BGPSessionStateConnect || state == v3.BGPSessionStateActive) {
				state = "Connect|Active"
			}
			fromBirdc[fam] = append(fromBirdc[fam], fmt.Sprintf("%s %s %s", p.ip, peerTypeOf(p.name), state))
		}
	}
	folded := st.BGP.DeepCopy()
	foldDeadPeers(folded)
	for fam, ps := range [][]v3.CalicoNodePeer{folded.PeersV4, folded.PeersV6} {
		var got []string
		for _, p := range ps {
			got = append(got, fmt.Sprintf("%s %s %s", p.PeerIP, p.Type, p.State))
		}
		slices.Sort(got)
		slices.Sort(fromBirdc[fam])
		if !slices.Equal(got, fromBirdc[fam]) {
			return false, fmt.Sprintf("family %d peers (ip type state): status %q, birdc %q", fam, got, fromBirdc[fam])
		}
	}
	if st.BGP.NumberEstablishedV4 != estBirdc[0] || st.BGP.NumberEstablishedV6 != estBirdc[1] || estBirdc[0] < 4 || estBirdc[1] < 5 {
		return false, fmt.Sprintf("established v4/v6: status %d/%d, birdc %d/%d (lab: at least 4/5)",
			st.BGP.NumberEstablishedV4, st.BGP.NumberEstablishedV6, estBirdc[0], estBirdc[1])
	}
	// birdc: routes.
	n4, n6 := l.birdcRouteCounts(t, i)
	if st.Routes.TotalV4 != n4 || st.Routes.TotalV6 != n6 || len(st.Routes.RoutesV4) != n4 || len(st.Routes.RoutesV6) != n6 {
		return false, fmt.Sprintf("routes: status total %d/%d listed %d/%d, birdc show route count %d/%d",
			st.Routes.TotalV4, st.Routes.TotalV6, len(st.Routes.RoutesV4), len(st.Routes.RoutesV6), n4, n6)
	}
	next := (i + 1) % len(l.Nodes)
	for _, w := range []struct {
		prefix, protocol, peerIP string
		source                   v3.CalicoNodeRouteSourceType
		peerType                 v3.BGPPeerType
	}{
		{"10.128.0.1/32", "Global_10_99_0_254", l.Tor.IP4, v3.RouteSourceTypeBGPPeer, v3.BGPPeerTypeGlobalPeer},
		{"fd00:100:0:1::/64", "Global_fd00_99__fe", l.Tor.IP6, v3.RouteSourceTypeBGPPeer, v3.BGPPeerTypeGlobalPeer},
		{l.Nodes[next].Block4, protoName("Mesh_", l.Nodes[next].IP4), l.Nodes[next].IP4, v3.RouteSourceTypeNodeMesh, v3.BGPPeerTypeNodeMesh},
		{l.Nodes[next].Block6, protoName("Mesh_", l.Nodes[next].IP6), l.Nodes[next].IP6, v3.RouteSourceTypeNodeMesh, v3.BGPPeerTypeNodeMesh},
	} {
		prefix := netip.MustParsePrefix(w.prefix).Masked().String()
		gw, iface, ok, out := l.birdcPrimary(t, i, prefix, w.protocol)
		if !ok {
			return false, fmt.Sprintf("birdc does not show %s selected from %s:\n%s", prefix, w.protocol, out)
		}
		routes := st.Routes.RoutesV4
		peers := st.BGP.PeersV4
		if netip.MustParsePrefix(prefix).Addr().Is6() {
			routes, peers = st.Routes.RoutesV6, st.BGP.PeersV6
		}
		ri := slices.IndexFunc(routes, func(r v3.CalicoNodeRoute) bool { return r.Destination == prefix && r.Type == v3.RouteTypeFIB })
		if ri < 0 {
			return false, "no FIB route " + prefix
		}
		if r := routes[ri]; r.Gateway != gw || r.Interface != iface || r.LearnedFrom.SourceType != w.source || r.LearnedFrom.PeerIP != w.peerIP {
			return false, fmt.Sprintf("route %s: %+v, want FIB via %s %s from %s %s (birdc:\n%s)", prefix, r, gw, iface, w.source, w.peerIP, out)
		}
		if !slices.ContainsFunc(peers, func(p v3.CalicoNodePeer) bool {
			return p.PeerIP == w.peerIP && p.Type == w.peerType && p.State == v3.BGPSessionStateEstablished
		}) {
			return false, fmt.Sprintf("no Established %s peer %s", w.peerType, w.peerIP)
		}
	}
	// A destination with two routes: BIRD selects the static multipath route (FIB), the ToR's is RIB.
	multi := "10.99.200.0/24"
	out := l.birdc(t, i, false, "show", "route", multi)
	if !strings.Contains(out, "[static1 ") || !regexp.MustCompile(`\[static1 [^]]*\] \* \(`).MatchString(out) ||
		!regexp.MustCompile(`\[Global_10_99_0_254 [^]]*\] \(`).MatchString(out) {
		return false, "birdc does not show the static route selected and the ToR's not:\n" + out
	}
	var fib, rib bool
	for _, r := range st.Routes.RoutesV4 {
		if r.Destination != multi {
			continue
		}
		switch {
		case r.Type == v3.RouteTypeFIB && r.LearnedFrom.SourceType == v3.RouteSourceTypeStatic && len(r.NextHops) == 2:
			fib = true
		case r.Type == v3.RouteTypeRIB && r.LearnedFrom.SourceType == v3.RouteSourceTypeBGPPeer && r.LearnedFrom.PeerIP == l.Tor.IP4 && r.Gateway == l.Tor.IP4:
			rib = true
		default:
			return false, fmt.Sprintf("unexpected route for %s: %+v", multi, r)
		}
	}
	if !fib || !rib {
		return false, fmt.Sprintf("%s: static multipath FIB %t, ToR RIB %t (birdc:\n%s)", multi, fib, rib, out)
	}
	return true, ""
}

// protoName is Calico's protocol name for a peer address: prefix + the address with . and : as _.
func protoName(prefix, ip string) string {
	return prefix + strings.NewReplacer(".", "_", ":", "_").Replace(ip)
}

// testExample: the contract's example YAML, applied with kubectl for every node, is collected within one
// period and matches what BIRD prints on that node.
func (f *fixture) testExample(t *testing.T) {
	// lab.sh returns once sessions are up and the ToR's routes imported; exports to the peers may still
	// be under way. node1's status is compared across BIRD versions, so it is taken when BIRD is done.
	f.settle(t, 0)
	for i := range f.lab.Nodes {
		name := f.name("example-" + f.lab.Nodes[i].Name)
		start := time.Now()
		f.obj.applySample(t, name, f.lab.k8sNode(i), period)
		obj := f.obj.waitCollected(t, name, periodD+slack, "collected within one period", nil)
		t.Logf("%s: status written %v after apply", name, time.Since(start).Round(time.Millisecond))
		if c := meta.FindStatusCondition(obj.Status.Conditions, v3.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
			t.Fatalf("%s: Ready %+v", name, c)
		}
		// The agent's status is what BIRD says at this moment (within a period: a session that never
		// connects may move between Connect and Active between the agent's collection and ours).
		testenv.Eventually(t, 2*onePeriod, name+" matches BIRD", func() (bool, string) {
			return f.matchBIRD(t, i, f.obj.get(t, name))
		})
		if i == 0 {
			crossVersion.Lock()
			crossVersion.status[f.flavour.Name] = f.obj.get(t, name).Status
			crossVersion.Unlock()
		}
	}
}

// testClassesAndPeriod: a spec change takes effect at once: removed classes are cleared, added ones
// appear, and a shorter period is in force at once (the agent collects every period from then on).
func (f *fixture) testClassesAndPeriod(t *testing.T) {
	name, a := f.name("spec"), f.agents[0]
	f.obj.applySample(t, name, f.lab.k8sNode(0), 3600)
	f.obj.waitCollected(t, name, periodD+slack, "collected", nil)

	for _, tc := range []struct {
		spec  string
		check func(*v3.CalicoNodeStatus) bool
	}{
		{`{"classes":["Agent"]}`, func(o *v3.CalicoNodeStatus) bool {
			return o.Status.Agent != nil && o.Status.BGP == nil && o.Status.Routes == nil
		}},
		{`{"classes":["BGP","Routes"]}`, func(o *v3.CalicoNodeStatus) bool {
			return o.Status.Agent == nil && o.Status.BGP != nil && len(o.Status.BGP.PeersV4) > 0 && o.Status.Routes != nil && len(o.Status.Routes.RoutesV4) > 0
		}},
	} {
		f.obj.patchSpec(t, name, tc.spec)
		f.obj.waitCollected(t, name, slack, "sections for "+tc.spec, func(o *v3.CalicoNodeStatus) (bool, string) {
			return tc.check(o), brief(o)
		})
	}

	// Period 3600 s: no collection for this object in a while. The agent's collection count is per node,
	// and this is node1's only object.
	before := reconciles(t, a)
	if ok, why := holds(2*periodD, func() (bool, string) {
		n := reconciles(t, a)
		return n == before, fmt.Sprintf("%v collections with a period of an hour", n-before)
	}); !ok {
		t.Fatal(why)
	}
	f.obj.patchSpec(t, name, fmt.Sprintf(`{"updatePeriodSeconds":%d}`, period))
	f.obj.waitCollected(t, name, slack, "period 2 in force", func(o *v3.CalicoNodeStatus) (bool, string) {
		c := meta.FindStatusCondition(o.Status.Conditions, "Refreshing")
		return c != nil && c.Status == metav1.ConditionTrue && strings.Contains(c.Message, fmt.Sprintf("every %d s", period)), fmt.Sprintf("%+v", c)
	})
	// From now on a collection per period: at least 2 more within 3 periods (+ slack).
	from := reconciles(t, a)
	testenv.Eventually(t, 3*periodD+slack, "a collection every period", func() (bool, string) {
		n := reconciles(t, a) - from
		return n >= 2, fmt.Sprintf("%v collections", n)
	})
}

// testPeriodZero: updatePeriodSeconds 0 collects once for the generation, says so (Refreshing=False,
// RefreshDisabled) and then writes nothing, even while BIRD's state moves.
func (f *fixture) testPeriodZero(t *testing.T) {
	name, a := f.name("zero"), f.agents[0]
	f.obj.applySample(t, name, f.lab.k8sNode(0), period)
	f.obj.waitCollected(t, name, periodD+slack, "collected", nil)
	f.obj.patchSpec(t, name, `{"updatePeriodSeconds":0}`)
	obj := f.obj.waitCollected(t, name, slack, "Refreshing=False/RefreshDisabled", func(o *v3.CalicoNodeStatus) (bool, string) {
		c := meta.FindStatusCondition(o.Status.Conditions, "Refreshing")
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v3.ReasonRefreshDisabled, fmt.Sprintf("%+v", c)
	})
	ww := f.obj.watchWrites(t, obj)
	before := reconciles(t, a)
	// A peer goes down meanwhile: with refresh disabled, the status must not follow.
	f.disablePeer(t, 0, "Mesh_10_99_0_3", false)
	if ok, why := holds(3*periodD, func() (bool, string) {
		n := ww.seen() - 1
		return n == 0 && reconciles(t, a) == before, fmt.Sprintf("%d writes, %v collections with refresh disabled", n, reconciles(t, a)-before)
	}); !ok {
		t.Fatal(why)
	}
	// Back to a period: refreshed at once, the peer's state shows.
	f.obj.patchSpec(t, name, fmt.Sprintf(`{"updatePeriodSeconds":%d}`, period))
	f.obj.waitCollected(t, name, slack, "refreshing again, peer down shown", func(o *v3.CalicoNodeStatus) (bool, string) {
		c := meta.FindStatusCondition(o.Status.Conditions, "Refreshing")
		p := findPeer(o, "10.99.0.3")
		return c != nil && c.Status == metav1.ConditionTrue && p != nil && p.State != v3.BGPSessionStateEstablished,
			fmt.Sprintf("Refreshing %+v, peer %+v; %s", c, p, brief(o))
	})
}

func findPeer(o *v3.CalicoNodeStatus, ip string) *v3.CalicoNodePeer {
	if o.Status.BGP == nil {
		return nil
	}
	for _, ps := range [][]v3.CalicoNodePeer{o.Status.BGP.PeersV4, o.Status.BGP.PeersV6} {
		for i := range ps {
			if ps[i].PeerIP == ip {
				return &ps[i]
			}
		}
	}
	return nil
}

// disablePeer disables a BGP protocol on node i with birdc (the test's hand, not the agent's) and
// re-enables it when the test ends, waiting until the lab is healthy again.
func (f *fixture) disablePeer(t testing.TB, i int, protocol string, v6 bool) {
	t.Helper()
	sock6 := f.lab.protoSocketV6(v6)
	if out := f.lab.birdc(t, i, sock6, "disable", protocol); !strings.Contains(out, "disabled") {
		t.Fatalf("birdc disable %s: %s", protocol, out)
	}
	t.Cleanup(func() {
		t0 := time.Now()
		f.lab.birdc(t, i, sock6, "enable", protocol)
		f.lab.waitHealthy(t)
		t.Logf("%s enabled again, lab healthy after %v", protocol, time.Since(t0).Round(time.Millisecond))
	})
}

// testDelete: deleting the object stops the agent's work on it, without errors.
func (f *fixture) testDelete(t *testing.T) {
	name, a := f.name("delete"), f.agents[0]
	f.obj.applySample(t, name, f.lab.k8sNode(0), period)
	f.obj.waitCollected(t, name, periodD+slack, "collected", nil)
	mark, writeErrs := a.logMark(), a.metric(t, "calico_node_status_status_writes_total", "reason", "error")
	f.obj.delete(t, name)
	before := reconciles(t, a)
	if ok, why := holds(2*periodD, func() (bool, string) {
		n := reconciles(t, a)
		return n == before, fmt.Sprintf("%v collections after the delete", n-before)
	}); !ok {
		t.Fatal(why)
	}
	if e := a.errorsSince(t, mark); len(e) > 0 {
		t.Errorf("the agent logged errors after the delete:\n%s", strings.Join(e, "\n"))
	}
	if e := a.metric(t, "calico_node_status_status_writes_total", "reason", "error"); e != writeErrs {
		t.Errorf("failed writes went from %v to %v", writeErrs, e)
	}
	if _, err := f.obj.tryGet(name); !apierrors.IsNotFound(err) {
		t.Errorf("deleted object is back: %v", err)
	}
}

// testMoveNode: moving spec.node hands the object over: the new node's agent writes (its router ID
// shows), the old one stops collecting it.
func (f *fixture) testMoveNode(t *testing.T) {
	name, old, next := f.name("move"), f.agents[0], f.agents[1]
	f.obj.applySample(t, name, f.lab.k8sNode(0), period)
	f.obj.waitCollected(t, name, periodD+slack, "collected by node1", func(o *v3.CalicoNodeStatus) (bool, string) {
		return o.Status.Agent.BIRDV4.RouterID == f.lab.Nodes[0].IP4, brief(o)
	})
	f.obj.patchSpec(t, name, fmt.Sprintf(`{"node":%q}`, f.lab.k8sNode(1)))
	f.obj.waitCollected(t, name, periodD+slack, "collected by node2", func(o *v3.CalicoNodeStatus) (bool, string) {
		return o.Status.Agent.BIRDV4.RouterID == f.lab.Nodes[1].IP4, brief(o)
	})
	testenv.Eventually(t, 2*onePeriod, "the status matches node2's BIRD", func() (bool, string) {
		return f.matchBIRD(t, 1, f.obj.get(t, name))
	})
	oldBefore, nextBefore := reconciles(t, old), reconciles(t, next)
	if ok, why := holds(2*periodD, func() (bool, string) {
		n := reconciles(t, old)
		return n == oldBefore, fmt.Sprintf("the old node's agent collected %v times after the move", n-oldBefore)
	}); !ok {
		t.Fatal(why)
	}
	if n := reconciles(t, next) - nextBefore; n < 1 {
		t.Errorf("the new node's agent did not collect in 2 periods (%v)", n)
	}
}

// testQuietThenPeerDown: with nothing changing, the agent writes nothing for several periods (beyond
// BIRD's own moves of the never-connecting peer between Connect and Active, which are real changes). A
// peer going down is one write, one PeerDown Event, and the metrics follow.
//
// What is asserted after the peer goes down: exactly one write shows the peer no longer Established
// (there was none before with it down). Writes after that, for 3 periods, may only be BIRD's own
// follow-ups: the downed peer's state/info/since/route counts moving on while BIRD finishes the shutdown
// (1.6 goes through stop/flush), its routes being withdrawn, and the dead peers' Connect/Active; nothing
// the agent adds on its own (no identical rewrite, nothing else changed).
func (f *fixture) testQuietThenPeerDown(t *testing.T) {
	name, a := f.name("quiet"), f.agents[0]
	f.settle(t, 0)
	f.obj.applySample(t, name, f.lab.k8sNode(0), period)
	obj := f.obj.waitCollected(t, name, periodD+slack, "collected", nil)
	ww := f.obj.watchWrites(t, obj)

	// Quiet: 4 periods.
	if ok, why := holds(4*periodD, func() (bool, string) { return onlyDeadFlaps(t, ww) }); !ok {
		t.Fatal(why)
	}
	ks, _ := ww.writes(t, 0)
	t.Logf("quiet for 4 periods: %d writes, all BIRD's own Connect/Active of the dead peers", len(ks))

	peerIP := f.lab.Nodes[1].IP4
	estBefore := a.metric(t, "calico_node_status_bgp_peers", "family", "IPv4", "established", "true")
	mark := ww.seen() - 1
	f.disablePeer(t, 0, protoName("Mesh_", peerIP), false)

	var downAt int
	testenv.Eventually(t, onePeriod, "a write with the peer down", func() (bool, string) {
		_, objs := ww.writes(t, mark)
		for j, o := range objs {
			if p := findPeer(o, peerIP); p != nil && p.State != v3.BGPSessionStateEstablished {
				downAt = mark + 1 + j
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d writes, none with %s down", len(objs), peerIP)
	})
	if downAt != mark+1 && count(mustKinds(t, ww, mark)[:downAt-mark-1], writeChange) > 0 {
		t.Errorf("writes before the one showing the peer down changed something: %v", mustKinds(t, ww, mark))
	}
	// 3 more periods: only BIRD's own follow-ups.
	time3 := 3 * periodD
	if ok, why := holds(time3, func() (bool, string) {
		ks, objs := ww.writes(t, downAt)
		prev := ww.at(downAt)
		for j, k := range ks {
			if k == writeSpurious || k == writeSpec {
				return false, fmt.Sprintf("write %d after the peer went down: %s", j+1, k)
			}
			if k == writeChange && !onlyPeerFollowUp(prev, objs[j], peerIP) {
				return false, fmt.Sprintf("write %d after the peer went down changed more than the peer's own state and routes:\n%s",
					j+1, lineDiff(content(prev.Status, true), content(objs[j].Status, true)))
			}
			prev = objs[j]
		}
		return true, ""
	}); !ok {
		t.Fatal(why)
	}
	ks, _ = ww.writes(t, mark)
	t.Logf("after the peer went down: writes %v (the first %d up to the one showing it down)", ks, downAt-mark)
	final := f.obj.get(t, name)
	for _, r := range final.Status.Routes.RoutesV4 {
		if r.LearnedFrom.PeerIP == peerIP {
			t.Errorf("route %s from the downed peer still listed", r.Destination)
		}
	}

	testenv.Eventually(t, 10*time.Second, "one PeerDown Event", func() (bool, string) {
		evs := f.obj.events(t, obj, "PeerDown")
		return len(evs) == 1 && strings.Contains(evs[0].Note, peerIP), fmt.Sprintf("%d events: %+v", len(evs), evs)
	})
	testenv.Eventually(t, onePeriod, "metrics: one IPv4 established session less", func() (bool, string) {
		est := a.metric(t, "calico_node_status_bgp_peers", "family", "IPv4", "established", "true")
		return est == estBefore-1, fmt.Sprintf("established IPv4 %v, before %v", est, estBefore)
	})
	if st := a.metric(t, "calico_node_status_bgp_peer_state", "peer_ip", peerIP, "state", "Established"); st != 0 {
		t.Errorf("bgp_peer_state still Established for %s", peerIP)
	}
}

// onlyDeadFlaps reports whether every write the watch saw is BIRD's own Connect/Active of a dead peer,
// and otherwise what the first other write changed.
func onlyDeadFlaps(t testing.TB, ww *writeWatch) (bool, string) {
	ks, objs := ww.writes(t, 0)
	for j, k := range ks {
		if k != writeDeadFlap {
			prev := ww.at(j)
			return false, fmt.Sprintf("writes while nothing changed: %v; write %d (%s) changed:\n%s", ks, j+1, k,
				lineDiff(content(prev.Status, false), content(objs[j].Status, false)))
		}
	}
	return true, ""
}

// settleQuiet is how long BIRD must stay unchanged to be settled: longer than the lab's connect retry
// (5 s), the longest timer that can still bring a session up and change what is exported to the peers
// (a quiet spell of one 2 s period let the cross-version comparison catch one flavour mid-export).
const settleQuiet = 6 * time.Second

// settle waits until BIRD on node i stays the same for settleQuiet (up to the dead peers' Connect/Active
// and BIRD's time jitter), so that a test that counts writes does not count the tail of an earlier test's
// change (routes still being exchanged after a session came back).
func (f *fixture) settle(t testing.TB, i int) {
	t.Helper()
	testenv.Eventually(t, 45*time.Second, "BIRD on "+f.lab.Nodes[i].Name+" unchanged for "+settleQuiet.String(), func() (bool, string) {
		first := ours(f.lab, i, allClasses)
		ref := v3.CalicoNodeStatusStatus{Agent: first.Agent, BGP: first.BGP, Routes: first.Routes}
		want := sectionsContent(first.Agent, first.BGP, first.Routes)
		return holds(settleQuiet, func() (bool, string) {
			now := ours(f.lab, i, allClasses)
			alignJitter(ref, &now)
			got := sectionsContent(now.Agent, now.BGP, now.Routes)
			return got == want, lineDiff(want, got)
		})
	})
}

func mustKinds(t testing.TB, ww *writeWatch, from int) []writeKind {
	ks, _ := ww.writes(t, from)
	return ks
}

// onlyPeerFollowUp reports whether cur differs from prev only in what BIRD changes on its own after a
// session went down: that peer's fields, the counts, and the routes learned from it disappearing.
func onlyPeerFollowUp(prev, cur *v3.CalicoNodeStatus, peerIP string) bool {
	strip := func(o *v3.CalicoNodeStatus) string {
		st := *o.Status.DeepCopy()
		if st.BGP != nil {
			st.BGP.PeersV4 = slices.DeleteFunc(st.BGP.PeersV4, func(p v3.CalicoNodePeer) bool { return p.PeerIP == peerIP })
			st.BGP.NumberEstablishedV4, st.BGP.NumberNotEstablishedV4 = 0, 0
			for i := range st.BGP.PeersV4 {
				st.BGP.PeersV4[i].RoutesExported = 0 // what others are sent moves with the withdrawal
			}
		}
		if st.Routes != nil {
			st.Routes.RoutesV4 = slices.DeleteFunc(st.Routes.RoutesV4, func(r v3.CalicoNodeRoute) bool { return r.LearnedFrom.PeerIP == peerIP })
			st.Routes.TotalV4 = 0
		}
		return content(st, true)
	}
	return strip(prev) == strip(cur)
}

// testAgentRestart: an agent restarted while nothing changed finds its status current and writes nothing.
func (f *fixture) testAgentRestart(t *testing.T) {
	name, a := f.name("restart"), f.agents[0]
	f.settle(t, 0)
	f.obj.applySample(t, name, f.lab.k8sNode(0), period)
	obj := f.obj.waitCollected(t, name, periodD+slack, "collected", nil)
	ww := f.obj.watchWrites(t, obj)
	a.restart(t)
	testenv.Eventually(t, onePeriod, "the restarted agent collected", func() (bool, string) {
		n := reconciles(t, a)
		return n >= 1, fmt.Sprintf("%v collections", n)
	})
	if ok, why := holds(2*periodD, func() (bool, string) { return onlyDeadFlaps(t, ww) }); !ok {
		t.Fatal(why)
	}
}

// testDuringCollection: the object is edited, then deleted, while the agent is in the middle of a
// collection (BIRD's reply held by a proxy on the socket) whose result differs from the status (a peer
// of BIRD goes down, then up, meanwhile). The edit makes the write conflict: the agent drops the
// collection made for the old spec and collects for the new one; the delete makes the write find
// nothing: no error, no crash, no resurrection.
func (f *fixture) testDuringCollection(t *testing.T) {
	node := f.lab.Name + "-proxied"
	proxy := newSocketProxy(t, filepath.Join(f.dir, "proxied-bird.ctl"), f.lab.Nodes[1].Socket4)
	a := startAgent(t, f.dir, agentConfig{node: node, kubeconfig: f.env.Kubeconfig, sock4: proxy.path, sock6: f.lab.Nodes[1].Socket6})
	name := f.name("during")
	f.obj.applySample(t, name, node, period)
	f.obj.waitCollected(t, name, periodD+slack, "collected", nil)
	errs := func() float64 { return a.metric(t, "calico_node_status_status_writes_total", "reason", "error") }
	mark, errsBefore, conflictsBefore := a.logMark(), errs(), a.metric(t, "calico_node_status_status_write_conflicts_total")

	// While the collection is held, BIRD changes (so the held collection has something to write) and
	// the spec is edited.
	peer := protoName("Mesh_", f.lab.Nodes[0].IP4)
	held, release := proxy.hold()
	defer release()
	waitChan(t, held, onePeriod, "a collection caught in the middle")
	f.disablePeer(t, 1, peer, false)
	obj := f.obj.patchSpec(t, name, `{"classes":["Agent"]}`)
	release()
	f.obj.waitCollected(t, name, onePeriod, "collected for the edited spec", func(o *v3.CalicoNodeStatus) (bool, string) {
		return o.Status.BGP == nil && o.Status.Routes == nil && o.Status.Agent != nil && o.Generation == obj.Generation, brief(o)
	})
	if c := a.metric(t, "calico_node_status_status_write_conflicts_total"); c < conflictsBefore+1 {
		t.Errorf("write conflicts %v -> %v: the write of the old collection did not conflict", conflictsBefore, c)
	}

	// Again, BIRD changes (the peer comes back) and the object is deleted meanwhile.
	f.obj.patchSpec(t, name, `{"classes":["Agent","BGP","Routes"]}`)
	f.obj.waitCollected(t, name, onePeriod, "collected with all classes again", nil)
	held, release2 := proxy.hold()
	defer release2()
	waitChan(t, held, onePeriod, "a collection caught in the middle")
	f.lab.birdc(t, 1, false, "enable", peer)
	f.obj.delete(t, name)
	release2()
	before := reconciles(t, a)
	if ok, why := holds(2*periodD, func() (bool, string) {
		_, err := f.obj.tryGet(name)
		if !apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("object back: %v", err)
		}
		return a.running() && a.healthz() == 200, "agent not healthy"
	}); !ok {
		t.Fatal(why)
	}
	// The caught collection finished (unchanged or dropped write), then nothing more for the object.
	if n := reconciles(t, a) - before; n > 1 {
		t.Errorf("%v collections after the delete", n)
	}
	if e := errs(); e != errsBefore {
		t.Errorf("failed writes went from %v to %v", errsBefore, e)
	}
	if e := a.errorsSince(t, mark); len(e) > 0 {
		t.Errorf("the agent logged errors (a conflict or a vanished object is no error):\n%s", strings.Join(e, "\n"))
	}
}

func waitChan(t testing.TB, c <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// testControlPlaneRestart: kube-apiserver and etcd stop and start again (same ports, same data); the
// agent keeps running meanwhile and, without a restart of its own, writes a BIRD change made afterwards.
func (f *fixture) testControlPlaneRestart(t *testing.T) {
	name, a := f.name("cprestart"), f.agents[0]
	f.obj.applySample(t, name, f.lab.k8sNode(0), period)
	f.obj.waitCollected(t, name, periodD+slack, "collected", nil)
	pid := a.pid()

	t0 := time.Now()
	if err := f.env.StopControlPlane(ctxT(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane stopped in %v", time.Since(t0).Round(time.Millisecond))
	started := false
	defer func() {
		if !started {
			if err := f.env.StartControlPlane(ctxT(t, 2*time.Minute)); err != nil {
				t.Errorf("start the control plane again: %v", err)
			}
		}
	}()
	if _, err := f.obj.tryGet(name); err == nil {
		t.Fatal("the API server still answers after StopControlPlane")
	}
	if ok, why := holds(2*periodD, func() (bool, string) {
		return a.running() && a.healthz() == 200, fmt.Sprintf("agent running %t, /healthz %d", a.running(), a.healthz())
	}); !ok {
		t.Fatalf("during the outage: %s", why)
	}
	started = true
	t0 = time.Now()
	if err := f.env.StartControlPlane(ctxT(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane started again in %v", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	peerIP := f.lab.Nodes[2].IP4
	f.disablePeer(t, 0, protoName("Mesh_", peerIP), false)
	// The agent's client and watch reconnect with backoff; a minute covers a long backoff after the outage.
	f.obj.waitCollected(t, name, time.Minute, "the BIRD change after the restart written", func(o *v3.CalicoNodeStatus) (bool, string) {
		p := findPeer(o, peerIP)
		return p != nil && p.State != v3.BGPSessionStateEstablished, fmt.Sprintf("%+v", p)
	})
	if !a.running() || a.pid() != pid {
		t.Errorf("the agent was restarted or stopped (pid %d, was %d)", a.pid(), pid)
	}
	t.Logf("BIRD change written %v after the control plane was up", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	// Their watches resume too: a new object on every node is picked up. The API server's watch cache
	// begins after the restart, so each agent's watch is refused as too old and relists, after client-go's
	// backoff, which grew during the outage.
	for i := range f.lab.Nodes {
		f.obj.applySample(t, f.name(fmt.Sprintf("cprestart-new-%d", i)), f.lab.k8sNode(i), period)
	}
	for i := range f.lab.Nodes {
		f.obj.waitCollected(t, f.name(fmt.Sprintf("cprestart-new-%d", i)), time.Minute, "a new object collected after the restart", nil)
	}
	t.Logf("new objects collected by every agent %v later", time.Since(t0).Round(time.Millisecond))
}

// testBIRDKilled: node3's BIRD is killed: within one period the status says NotReady with
// DaemonUnreachable in every section, the agent stays up and healthy; BIRD started again: recovered within
// one period.
func (f *fixture) testBIRDKilled(t *testing.T) {
	const i = 2
	name, a := f.name("killed"), f.agents[i]
	f.obj.applySample(t, name, f.lab.k8sNode(i), period)
	f.obj.waitCollected(t, name, periodD+slack, "collected, Ready", readyIs(metav1.ConditionTrue))
	f.lab.kill(t, i)
	t.Cleanup(func() { f.lab.waitHealthy(t) })
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			f.lab.start(t, i)
		}
	})
	f.obj.waitCollected(t, name, onePeriod, "NotReady, DaemonUnreachable", unreachable)
	if !a.running() || a.healthz() != 200 {
		t.Fatalf("agent with BIRD down: running %t, /healthz %d", a.running(), a.healthz())
	}
	restarted = true
	f.lab.start(t, i)
	f.obj.waitCollected(t, name, onePeriod, "recovered", func(o *v3.CalicoNodeStatus) (bool, string) {
		ok, why := readyIs(metav1.ConditionTrue)(o)
		return ok && o.Status.Agent.BIRDV4.State == v3.BGPDaemonStateReady && o.Status.Agent.BIRDV6.State == v3.BGPDaemonStateReady, why
	})
}

// testSocketAbsentAtStart: the agent starts while node3's BIRD is not running and its sockets do not
// exist: NotReady with DaemonUnreachable, healthy; once BIRD is started, recovered within one period.
func (f *fixture) testSocketAbsentAtStart(t *testing.T) {
	const i = 2
	a := f.agents[i]
	a.stop(t)
	f.lab.kill(t, i)
	t.Cleanup(func() { f.lab.waitHealthy(t) })
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			f.lab.start(t, i)
		}
	})
	for _, d := range f.lab.daemons(i) {
		if err := removeIfExists(d.socket); err != nil {
			t.Fatal(err)
		}
	}
	a.start(t, agentBinary(t))
	name := f.name("absent")
	f.obj.applySample(t, name, f.lab.k8sNode(i), period)
	obj := f.obj.waitCollected(t, name, periodD+slack, "NotReady, DaemonUnreachable", unreachable)
	if c := meta.FindStatusCondition(obj.Status.Conditions, v3.ConditionReady); !strings.Contains(c.Message, "no such file") {
		t.Errorf("Ready message does not say the socket is missing: %q", c.Message)
	}
	if a.healthz() != 200 {
		t.Errorf("/healthz %d with the socket absent", a.healthz())
	}
	restarted = true
	f.lab.start(t, i)
	f.obj.waitCollected(t, name, onePeriod, "recovered", readyIs(metav1.ConditionTrue))
}

func readyIs(s metav1.ConditionStatus) func(*v3.CalicoNodeStatus) (bool, string) {
	return func(o *v3.CalicoNodeStatus) (bool, string) {
		c := meta.FindStatusCondition(o.Status.Conditions, v3.ConditionReady)
		return c != nil && c.Status == s, brief(o)
	}
}

// unreachable: both daemons NotReady, the BGP and Routes sections and Ready say DaemonUnreachable.
func unreachable(o *v3.CalicoNodeStatus) (bool, string) {
	st := o.Status
	c := meta.FindStatusCondition(st.Conditions, v3.ConditionReady)
	has := func(is []v3.StatusIssue) bool {
		return slices.ContainsFunc(is, func(x v3.StatusIssue) bool { return x.Reason == v3.ReasonDaemonUnreachable })
	}
	ok := st.Agent != nil && st.Agent.BIRDV4 != nil && st.Agent.BIRDV4.State == v3.BGPDaemonStateNotReady &&
		st.Agent.BIRDV6 != nil && st.Agent.BIRDV6.State == v3.BGPDaemonStateNotReady &&
		st.BGP != nil && has(st.BGP.Issues) && st.Routes != nil && has(st.Routes.Issues) &&
		c != nil && c.Status == metav1.ConditionFalse && c.Reason == v3.ReasonDaemonUnreachable
	return ok, brief(o)
}

// TestE2E_BIRD16vsBIRD2_SameStatus: the two suites' example status of node1 (same lab, other BIRD) is the
// same up to version strings and times (and the dead peers' Connect/Active).
func TestE2E_BIRD16vsBIRD2_SameStatus(t *testing.T) { sameStatus(t, lab.Bird1, lab.Bird2) }

// TestE2E_BIRD16vsCalicoBIRD_SameStatus: likewise for Calico's BIRD fork, when its suite ran.
func TestE2E_BIRD16vsCalicoBIRD_SameStatus(t *testing.T) { sameStatus(t, lab.Bird1, lab.Calico) }

func sameStatus(t *testing.T, fa, fb lab.Flavour) {
	crossVersion.Lock()
	a, okA := crossVersion.status[fa.Name]
	b, okB := crossVersion.status[fb.Name]
	crossVersion.Unlock()
	if !okA || !okB {
		t.Skipf("needs the %s and %s suites to have run their example", fa.Name, fb.Name)
	}
	norm := func(st v3.CalicoNodeStatusStatus) string {
		st = *st.DeepCopy()
		for _, d := range []*v3.BGPDaemonStatus{st.Agent.BIRDV4, st.Agent.BIRDV6} {
			d.Version, d.LastBootTime, d.LastReconfigurationTime = "", "", ""
		}
		for _, ps := range [][]v3.CalicoNodePeer{st.BGP.PeersV4, st.BGP.PeersV6} {
			for i := range ps {
				ps[i].Since = ""
			}
		}
		return content(st, true)
	}
	if na, nb := norm(a), norm(b); na != nb {
		t.Errorf("%s and %s give different status for the same lab (- %s, + %s):\n%s", fa.Name, fb.Name, fa.Name, fb.Name, lineDiff(na, nb))
	}
}
