package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/cmd/calico-node-status/cli"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// runCLI runs the calico-node-status command in process against the test's control plane.
func runCLI(t testing.TB, env *testenv.Env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := cli.NewRootCommand(cli.Options{Streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	cmd.SetArgs(append(args, "--kubeconfig", env.Kubeconfig, "--request-timeout", "10s"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// meshJSON is the part of `mesh -o json` the test reads.
type meshJSON struct {
	Healthy bool
	Pairs   []struct {
		Family, Kind, Verdict string
		Broken                bool
		A, B                  struct {
			Node, State string
			Session     *struct{ State, Info string }
		}
	}
}

// TestE2E_MeshFlagsASessionBrokenOnOneSide: a 3-node BIRD lab with one agent process per node. The
// session metrics come with no object at all; then two nodes get their objects from `enable`, the third
// agent creates its own (--ensure-own-object). `mesh`
// sees the whole node-to-node mesh up (exit 0); then node2's BIRD alone disables its mesh session to node1
// (birdc disable, as an operator or a stale config would) and `mesh` flags exactly that pair, with what
// each end says (exit 2), and the other pairs still up; once node2 enables it again, exit 0.
func TestE2E_MeshFlagsASessionBrokenOnOneSide(t *testing.T) {
	env := testenv.Shared(t)
	l := newBirdLab(t, lab.Start(t, lab.Bird1.Options(lab.Options{Name: "e2emesh", Nodes: 3})))
	ctx := context.Background()
	c := env.Client
	var names []string
	for i, n := range l.Nodes {
		name := l.k8sNode(i)
		names = append(names, name)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := c.Create(ctx, node); err != nil {
			t.Fatalf("create node %s: %v", name, err)
		}
		t.Cleanup(func() { _ = c.Delete(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}) })
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.IP4}, {Type: corev1.NodeInternalIP, Address: n.IP6}}
		if err := c.Status().Update(ctx, node); err != nil {
			t.Fatalf("addresses of node %s: %v", name, err)
		}
		t.Cleanup(func() {
			_ = c.Delete(context.Background(), &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: v3.ManagedObjectName(name)}})
		})
	}
	// Agents first, reading BIRD for their session metrics every 2 s; only node3's creates its own object.
	dir := t.TempDir()
	var agents []*agentProc
	for i, n := range l.Nodes {
		extra := []string{"--metrics-interval", "2s"}
		if i == 2 {
			extra = append(extra, "--ensure-own-object")
		}
		agents = append(agents, startAgent(t, dir, agentConfig{node: names[i], kubeconfig: env.Kubeconfig, sock4: n.Socket4, sock6: n.Socket6, extra: extra}))
	}
	// Metrics with no object of node1: its sessions are there all the same.
	testenv.Eventually(t, 30*time.Second, "node1's session metrics with no object of node1", func() (bool, string) {
		m := agents[0].scrape(t)
		up := m.get("calico_node_status_bgp_session_up", "peer", l.Nodes[1].IP4, "type", "NodeMesh", "family", "IPv4", "node", names[0])
		mesh4 := m.get("calico_node_status_bgp_mesh_peers", "family", "IPv4")
		est6 := m.get("calico_node_status_bgp_mesh_peers_established", "family", "IPv6")
		daemons := m.get("calico_node_status_bgp_daemon_up")
		return up == 1 && mesh4 == 2 && est6 == 2 && daemons == 2, fmt.Sprintf("session_up %v, mesh peers v4 %v, established v6 %v, daemons up %v", up, mesh4, est6, daemons)
	})
	var l1 v3.CalicoNodeStatusList
	if err := c.List(ctx, &l1, client.MatchingFields{"spec.node": names[0]}); err != nil || len(l1.Items) != 0 {
		t.Fatalf("node1 has objects (%v): %d; the metrics above must come without one", err, len(l1.Items))
	}
	if out, stderr, err := runCLI(t, env, "enable", names[0], names[1], "--period", "2"); err != nil {
		t.Fatalf("enable: %v\n%s%s", err, out, stderr)
	}
	// node3's agent made its own object (period 30 s): a 2 s period for the test.
	third := &v3.CalicoNodeStatus{}
	testenv.Eventually(t, 60*time.Second, "node3's agent to create its own object", func() (bool, string) {
		err := c.Get(ctx, client.ObjectKey{Name: v3.ManagedObjectName(names[2])}, third)
		return err == nil, fmt.Sprint(err)
	})
	if third.Annotations[v3.AnnotationCreatedBy] != "agent" || third.Labels[v3.LabelManaged] != "true" || third.Spec.Node != names[2] {
		t.Fatalf("node3's own object: %+v %+v", third.ObjectMeta, third.Spec)
	}
	if err := c.Patch(ctx, third, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"updatePeriodSeconds":2}}`))); err != nil {
		t.Fatal(err)
	}
	for _, name := range names[:2] {
		var o v3.CalicoNodeStatus
		if err := c.Get(ctx, client.ObjectKey{Name: v3.ManagedObjectName(name)}, &o); err != nil || o.Annotations[v3.AnnotationCreatedBy] != "cli" {
			t.Errorf("%s's object: %v %v (want the one enable made; its agent creates none)", name, err, o.Annotations)
		}
	}

	mesh := func() (meshJSON, int, string) {
		t.Helper()
		out, _, err := runCLI(t, env, "mesh", "--kind", "NodeMesh", "-o", "json")
		var m meshJSON
		if jerr := json.Unmarshal([]byte(out), &m); jerr != nil {
			t.Fatalf("mesh -o json: %v (%v)\n%s", jerr, err, out)
		}
		return m, cli.ExitCode(err), out
	}
	verdicts := func(m meshJSON) string {
		var s []string
		for _, p := range m.Pairs {
			s = append(s, fmt.Sprintf("%s %s-%s %s", p.Family, p.A.Node, p.B.Node, p.Verdict))
		}
		return strings.Join(s, "; ")
	}
	testenv.Eventually(t, 60*time.Second, "the whole mesh up from both ends (mesh exits 0)", func() (bool, string) {
		m, code, _ := mesh()
		return code == 0 && m.Healthy && len(m.Pairs) == 6, fmt.Sprintf("exit %d: %s", code, verdicts(m))
	})
	logViews(t, env, "mesh up")

	// node2 disables its IPv4 mesh session to node1; node1 is left as it is.
	proto := protoName("Mesh_", l.Nodes[0].IP4)
	if out := l.birdc(t, 1, false, "disable", proto); !strings.Contains(out, "disabled") {
		t.Fatalf("birdc disable %s on node2: %s", proto, out)
	}
	enabled := false
	t.Cleanup(func() {
		if !enabled {
			l.birdc(t, 1, false, "enable", proto)
		}
	})
	var broken meshJSON
	// Each end's agent reports on its own period: for a moment one end's status is fresher than the
	// other's and the pair is (rightly) OneSided; wait until both ends tell it.
	testenv.Eventually(t, 30*time.Second, "mesh to flag node1-node2 (IPv4) from both ends (exit 2)", func() (bool, string) {
		m, code, _ := mesh()
		broken = m
		bothEnds := false
		for _, p := range m.Pairs {
			if p.Broken && p.Verdict == "Down" && p.B.Session != nil && p.B.Session.Info == "Down (disabled)" {
				bothEnds = true
			}
		}
		return code == cli.ExitMeshBroken && len(m.Pairs) == 6 && strings.Count(verdicts(m), " Up") == 5 && bothEnds,
			fmt.Sprintf("exit %d: %s", code, verdicts(m))
	})
	for _, p := range broken.Pairs {
		if !p.Broken {
			continue
		}
		if p.Family != "IPv4" || p.A.Node != names[0] || p.B.Node != names[1] || p.Verdict != "Down" {
			t.Errorf("broken pair %s %s-%s %s, want IPv4 %s-%s Down", p.Family, p.A.Node, p.B.Node, p.Verdict, names[0], names[1])
		}
		if p.B.Session == nil || p.B.Session.Info != "Down (disabled)" || p.A.Session == nil || p.A.Session.State == string(v3.BGPSessionStateEstablished) {
			t.Errorf("what the ends say: node1 %+v, node2 %+v; want node2 'Down (disabled)' and node1 not Established", p.A.Session, p.B.Session)
		}
	}
	// The metrics say it too: node2's session to node1 is down, with the state it is in.
	testenv.Eventually(t, 10*time.Second, "node2's session_up of node1 at 0", func() (bool, string) {
		m := agents[1].scrape(t)
		up := m.get("calico_node_status_bgp_session_up", "peer", l.Nodes[0].IP4, "family", "IPv4")
		idle := m.get("calico_node_status_bgp_session_state", "peer", l.Nodes[0].IP4, "state", "Idle")
		est := m.get("calico_node_status_bgp_mesh_peers_established", "family", "IPv4")
		return up == 0 && idle == 1 && est == 1, fmt.Sprintf("up %v, Idle %v, mesh established v4 %v", up, idle, est)
	})
	out := logViews(t, env, "node2 disabled its mesh session to node1")
	if !strings.Contains(out, "Broken sessions (1):") || !strings.Contains(out, "Idle: Down (disabled)") {
		t.Errorf("the text view does not show the broken pair with node2's reason:\n%s", out)
	}

	l.birdc(t, 1, false, "enable", proto)
	enabled = true
	testenv.Eventually(t, 60*time.Second, "the mesh up again (exit 0)", func() (bool, string) {
		m, code, _ := mesh()
		return code == 0 && m.Healthy, fmt.Sprintf("exit %d: %s", code, verdicts(m))
	})
}

// logViews logs the text views of peers and mesh (what the README shows) and returns mesh's.
func logViews(t *testing.T, env *testenv.Env, when string) string {
	t.Helper()
	peers, _, err := runCLI(t, env, "peers")
	if err != nil {
		t.Fatalf("peers: %v", err)
	}
	mesh, _, err := runCLI(t, env, "mesh", "--kind", "NodeMesh")
	t.Logf("%s:\n$ calico-node-status peers\n%s\n$ calico-node-status mesh --kind NodeMesh   # exit %d\n%s", when, peers, cli.ExitCode(err), mesh)
	return mesh
}
