package cli_test

// Tier "API": the cluster-wide views (peers, mesh) and per-node objects (enable, disable) on a real
// kube-apiserver + etcd, with Node objects and statuses written through the status subresource as the
// agents write them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/cmd/calico-node-status/cli"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	typedv3 "github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned/typed/api/v3"
)

// createNode creates a Node with InternalIP addresses (status subresource, as the kubelet sets them).
func createNode(t *testing.T, env *testenv.Env, name string, labels map[string]string, ips ...string) {
	t.Helper()
	ctx := context.Background()
	nodes := env.Kube.CoreV1().Nodes()
	n, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	for _, ip := range ips {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	if _, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node %s addresses: %v", name, err)
	}
}

func meshPeer(ip string, state v3.BGPSessionState, info string) v3.CalicoNodePeer {
	return v3.CalicoNodePeer{PeerIP: ip, Type: v3.BGPPeerTypeNodeMesh, State: state, Info: info, Since: "2026-11-30 11:00:00",
		Protocol: "Mesh_" + strings.NewReplacer(".", "_", ":", "_").Replace(ip), NeighborAS: 64512, RoutesImported: 3, RoutesExported: 1}
}

// writeStatus creates a CalicoNodeStatus for node and writes a status with the peers, as an agent would.
func writeStatus(t *testing.T, c typedv3.CalicoNodeStatusInterface, name, node, routerID string, peers ...v3.CalicoNodePeer) {
	t.Helper()
	ctx := context.Background()
	period := int32(10)
	o, err := c.Create(ctx, &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.CalicoNodeStatusSpec{Node: node,
		Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: &period}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	bgp := &v3.CalicoNodeBGPStatus{}
	for _, p := range peers {
		est := p.State == v3.BGPSessionStateEstablished
		if strings.Contains(p.PeerIP, ":") {
			bgp.PeersV6 = append(bgp.PeersV6, p)
			if est {
				bgp.NumberEstablishedV6++
			} else {
				bgp.NumberNotEstablishedV6++
			}
			continue
		}
		bgp.PeersV4 = append(bgp.PeersV4, p)
		if est {
			bgp.NumberEstablishedV4++
		} else {
			bgp.NumberNotEstablishedV4++
		}
	}
	o.Status = v3.CalicoNodeStatusStatus{LastUpdated: metav1.Now(), ObservedGeneration: o.Generation, BGP: bgp,
		Agent:      &v3.CalicoNodeAgentStatus{BIRDV4: &v3.BGPDaemonStatus{State: v3.BGPDaemonStateReady, RouterID: routerID}},
		Conditions: []metav1.Condition{{Type: v3.ConditionReady, Status: metav1.ConditionTrue, Reason: v3.ReasonCollected, LastTransitionTime: metav1.Now()}}}
	if _, err := c.UpdateStatus(ctx, o, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
}

// TestAPIServer_PeersAndMeshFromRealObjects: three nodes of which n2 has no mesh session to n3 while n3
// tries n2 (the one-sided case of an incomplete mesh), n4 has no object; peers lists every session with
// its filters, mesh flags the pair with what each end says and exits 2; once fixed, mesh exits 0 (3 while a
// node has no status).
func TestAPIServer_PeersAndMeshFromRealObjects(t *testing.T) {
	env := testenv.StartForTest(t, testenv.Options{})
	c := env.Clientset.ProjectcalicoV3().CalicoNodeStatuses()
	createNode(t, env, "n1", map[string]string{"rack": "a"}, "10.0.0.1", "fd00::1")
	createNode(t, env, "n2", map[string]string{"rack": "a"}, "10.0.0.2", "fd00::2")
	createNode(t, env, "n3", map[string]string{"rack": "a"}, "10.0.0.3", "fd00::3")
	createNode(t, env, "n4", map[string]string{"rack": "b"}, "10.0.0.4")
	tor := v3.CalicoNodePeer{PeerIP: "10.0.0.254", Type: v3.BGPPeerTypeGlobalPeer, State: v3.BGPSessionStateEstablished, NeighborAS: 64513, RoutesImported: 10}
	writeStatus(t, c, "n1-status", "n1", "10.0.0.1", meshPeer("10.0.0.2", v3.BGPSessionStateEstablished, ""), meshPeer("10.0.0.3", v3.BGPSessionStateEstablished, ""),
		meshPeer("fd00::2", v3.BGPSessionStateEstablished, ""), tor)
	writeStatus(t, c, "n2-status", "n2", "10.0.0.2", meshPeer("10.0.0.1", v3.BGPSessionStateEstablished, ""), meshPeer("fd00::1", v3.BGPSessionStateEstablished, ""), tor)
	writeStatus(t, c, "n3-status", "n3", "10.0.0.3", meshPeer("10.0.0.1", v3.BGPSessionStateEstablished, ""),
		meshPeer("10.0.0.2", v3.BGPSessionStateActive, "Socket: Connection refused"), tor)

	// peers: every session, and the filters.
	out, stderr, err := runOn(t, env, "peers")
	if err != nil {
		t.Fatalf("peers: %v\n%s", err, stderr)
	}
	if n := strings.Count(out, "\n"); n != 1+10 {
		t.Errorf("peers: %d lines, want a header and 10 sessions:\n%s", n, out)
	}
	wantAll(t, "peers", squeeze(out), "NODE PEER TYPE STATE SINCE ASN PREFIXES IN/OUT REASON",
		"n3 10.0.0.2 NodeMesh Active 2026-11-30 11:00:00 64512 3/1 Socket: Connection refused", "n1 10.0.0.254 GlobalPeer Established - 64513 10/0 -")
	out, _, err = runOn(t, env, "peers", "--state", "NotEstablished", "-o", "wide")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "n3-status") || !strings.Contains(lines[0], "PROTOCOL") {
		t.Errorf("peers --state NotEstablished -o wide:\n%s", out)
	}
	out, _, err = runOn(t, env, "peers", "--node", "n2", "--type", "GlobalPeer", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var pl struct {
		Kind  string
		Items []struct{ Node, PeerIP, Type string }
	}
	if err := json.Unmarshal([]byte(out), &pl); err != nil || pl.Kind != "PeerList" || len(pl.Items) != 1 || pl.Items[0].PeerIP != "10.0.0.254" {
		t.Errorf("peers --node n2 --type GlobalPeer -o json: %v %+v\n%s", err, pl, out)
	}

	// mesh: the incomplete mesh is flagged, with what each end says; exit code 2.
	out, _, err = runOn(t, env, "mesh", "--node-selector", "rack=a")
	if got := cli.ExitCode(err); got != cli.ExitMeshBroken {
		t.Fatalf("mesh: exit %d (%v), want %d\n%s", got, err, cli.ExitMeshBroken, out)
	}
	wantAll(t, "mesh", squeeze(out), "Nodes: 3", "IPv4 node-to-node mesh: 3 sessions: 2 Up, 1 MissingOnOneSide",
		"IPv6 node-to-node mesh: 3 sessions: 1 Up, 2 MissingOnBoth",
		"2 n2 E . -*", "3 n3 E x* .",
		"IPv4 NodeMesh n2 n3 MissingOnOneSide not configured (no session to the other end) Active: Socket: Connection refused",
		"IPv4 external peers: 3 sessions: 3 Up")
	if strings.Contains(out, "n4") {
		t.Errorf("mesh --node-selector rack=a shows n4:\n%s", out)
	}
	// Without the selector, n4 has no status: its pairs are broken as far as the others tell (nobody
	// lists it).
	out, _, err = runOn(t, env, "mesh", "-o", "json")
	if got := cli.ExitCode(err); got != cli.ExitMeshBroken {
		t.Fatalf("mesh -o json: exit %d (%v)", got, err)
	}
	var mr struct {
		Kind     string
		Healthy  bool
		NoReport []string
		Pairs    []struct{ Family, Kind, Verdict string }
	}
	if err := json.Unmarshal([]byte(out), &mr); err != nil || mr.Kind != "MeshReport" || mr.Healthy || len(mr.NoReport) != 1 || mr.NoReport[0] != "n4" {
		t.Errorf("mesh -o json: %v %+v", err, mr)
	}

	// Fix n2's side and IPv6 of n3: the rack is healthy (exit 0); the whole cluster is not verified (n4).
	var n2, n3 v3.CalicoNodeStatus
	ctx := context.Background()
	for name, o := range map[string]*v3.CalicoNodeStatus{"n2-status": &n2, "n3-status": &n3} {
		got, err := c.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		*o = *got
	}
	n2.Status.BGP.PeersV4 = append(n2.Status.BGP.PeersV4, meshPeer("10.0.0.3", v3.BGPSessionStateEstablished, ""))
	n2.Status.BGP.PeersV6 = append(n2.Status.BGP.PeersV6, meshPeer("fd00::3", v3.BGPSessionStateEstablished, ""))
	n3.Status.BGP.PeersV4[1] = meshPeer("10.0.0.2", v3.BGPSessionStateEstablished, "")
	n3.Status.BGP.PeersV6 = []v3.CalicoNodePeer{meshPeer("fd00::1", v3.BGPSessionStateEstablished, ""), meshPeer("fd00::2", v3.BGPSessionStateEstablished, "")}
	n1p, err := c.Get(ctx, "n1-status", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n1 := *n1p
	n1.Status.BGP.PeersV6 = append(n1.Status.BGP.PeersV6, meshPeer("fd00::3", v3.BGPSessionStateEstablished, ""))
	for _, o := range []*v3.CalicoNodeStatus{&n1, &n2, &n3} {
		if _, err := c.UpdateStatus(ctx, o, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err = runOn(t, env, "mesh", "-l", "rack=a")
	if err != nil {
		t.Fatalf("mesh of a healthy rack: %v\n%s", err, out)
	}
	wantAll(t, "healthy mesh", squeeze(out), "IPv4 node-to-node mesh: 3 sessions: 3 Up", "IPv6 node-to-node mesh: 3 sessions: 3 Up", "No broken sessions.")
	_, _, err = runOn(t, env, "mesh")
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitMeshBroken {
		t.Errorf("whole cluster with n4 silent and unlisted: %v, want exit %d", err, cli.ExitMeshBroken)
	}

	// A stale status makes a healthy mesh unverified (exit 3): the view never calls it healthy.
	old := metav1.NewTime(time.Now().Add(-time.Hour))
	n3p, err := c.Get(ctx, "n3-status", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n3 = *n3p
	n3.Status.LastUpdated = old
	if _, err := c.UpdateStatus(ctx, &n3, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, _, err = runOn(t, env, "mesh", "-l", "rack=a")
	if got := cli.ExitCode(err); got != cli.ExitMeshUnverified {
		t.Errorf("mesh with a stale status: exit %d (%v), want %d\n%s", got, err, cli.ExitMeshUnverified, out)
	}
	wantAll(t, "stale mesh", out, "Stale status from: n3")
}

func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.Join(strings.Fields(lines[i]), " ")
	}
	return strings.Join(lines, "\n")
}

// TestAPIServer_EnableAndDisablePerNodeObjects: enable creates one labelled object per chosen node (again:
// nothing new), disable deletes exactly those, never a hand-made object of the same nodes.
func TestAPIServer_EnableAndDisablePerNodeObjects(t *testing.T) {
	env := testenv.StartForTest(t, testenv.Options{})
	c := env.Clientset.ProjectcalicoV3().CalicoNodeStatuses()
	ctx := context.Background()
	createNode(t, env, "w1", map[string]string{"role": "worker"})
	createNode(t, env, "w2", map[string]string{"role": "worker"})
	createNode(t, env, "cp1", map[string]string{"role": "control-plane"})
	// A hand-made object of w1: never touched.
	writeStatus(t, c, "w1-by-hand", "w1", "10.0.0.1")

	managed := func() []string {
		t.Helper()
		l, err := c.List(ctx, metav1.ListOptions{LabelSelector: v3.LabelManaged + "=true"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range l.Items {
			out = append(out, o.Name+"@"+o.Spec.Node)
		}
		return out
	}

	out, stderr, err := runOn(t, env, "enable", "--selector", "role=worker")
	if err != nil {
		t.Fatalf("enable --selector: %v\n%s", err, stderr)
	}
	wantAll(t, "enable --selector", out, "caliconodestatus.projectcalico.org/cns-w1 created (node w1)", "caliconodestatus.projectcalico.org/cns-w2 created (node w2)")
	if got := strings.Join(managed(), ","); got != "cns-w1@w1,cns-w2@w2" {
		t.Fatalf("managed objects after enable --selector role=worker: %s", got)
	}
	o, err := c.Get(ctx, "cns-w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Annotations[v3.AnnotationCreatedBy] != "cli" || *o.Spec.UpdatePeriodSeconds != v3.ManagedPeriodSeconds ||
		fmt.Sprint(o.Spec.Classes) != "[Agent BGP]" {
		t.Errorf("cns-w1: %+v %+v", o.ObjectMeta.Annotations, o.Spec)
	}

	out, stderr, err = runOn(t, env, "enable", "--all-nodes", "--classes", "BGP", "--period", "60")
	if err != nil {
		t.Fatalf("enable --all-nodes: %v\n%s", err, stderr)
	}
	wantAll(t, "enable --all-nodes", out+stderr, "cns-w1 unchanged (exists)", "cns-cp1 created (node cp1)", "3 node(s): 1 created, 2 already had one")
	if got := strings.Join(managed(), ","); got != "cns-cp1@cp1,cns-w1@w1,cns-w2@w2" {
		t.Fatalf("managed objects after enable --all-nodes: %s", got)
	}
	if _, _, err := runOn(t, env, "enable", "nope"); err == nil || !strings.Contains(err.Error(), `get node "nope"`) {
		t.Errorf("enable of a node that does not exist: %v", err)
	}

	out, _, err = runOn(t, env, "disable", "w2")
	if err != nil {
		t.Fatal(err)
	}
	wantAll(t, "disable w2", out, "cns-w2 deleted (node w2)")
	if got := strings.Join(managed(), ","); got != "cns-cp1@cp1,cns-w1@w1" {
		t.Fatalf("managed objects after disable w2: %s", got)
	}
	if _, _, err = runOn(t, env, "disable", "--all-nodes"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "no managed object left", func() bool { return len(managed()) == 0 })
	if _, err := c.Get(ctx, "w1-by-hand", metav1.GetOptions{}); err != nil {
		t.Errorf("the hand-made object of w1 after disable --all-nodes: %v", err)
	}
}

// The per-node commands need exactly one way of naming nodes, checked before any request.
func TestEnableDisableNeedOneNodeChoice(t *testing.T) {
	for _, args := range [][]string{{"enable"}, {"enable", "a", "--all-nodes"}, {"disable", "--all-nodes", "-l", "x=y"}, {"disable"}} {
		_, err := run(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), "exactly one of them") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
