package printer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/mesh"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

func k8sNode(name string, ips ...string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, ip := range ips {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	return n
}

// threeNodes: n1-n2 up, n2 lacks n3 while n3 tries n2 (MissingOnOneSide), n4 has no object (nobody
// lists it: MissingOnOneSide, as far as the reporting ends tell); the IPv6
// address of n1 is known only from its Node, n2's IPv4 only from its router ID.
func threeNodes() ([]printer.NodeReport, []corev1.Node) {
	objs := []v3.CalicoNodeStatus{
		statusObj("s1", "n1", t0, meshPeer("10.0.0.2", v3.BGPSessionStateEstablished, ""), meshPeer("10.0.0.3", v3.BGPSessionStateEstablished, "")),
		statusObj("s2", "n2", t0, meshPeer("10.0.0.1", v3.BGPSessionStateEstablished, "")),
		statusObj("s3", "n3", t0, meshPeer("10.0.0.1", v3.BGPSessionStateEstablished, ""), meshPeer("10.0.0.2", v3.BGPSessionStateActive, "Socket: Connection refused")),
	}
	objs[1].Status.Agent = &v3.CalicoNodeAgentStatus{BIRDV4: &v3.BGPDaemonStatus{RouterID: "10.0.0.2"}}
	nodes := []corev1.Node{k8sNode("n1", "10.0.0.1", "fd00::1"), k8sNode("n2"), k8sNode("n3", "10.0.0.3"), k8sNode("n4", "10.0.0.4")}
	return printer.LatestReports(objs, t0, nil), nodes
}

func TestMeshNodesAndText(t *testing.T) {
	reps, nodes := threeNodes()
	mn := printer.MeshNodes(reps, nodes)
	got := map[string]string{}
	for _, n := range mn {
		got[n.Name] = fmt.Sprint(n.Addrs, n.Report != nil)
	}
	want := map[string]string{"n1": "[10.0.0.1 fd00::1] true", "n2": "[10.0.0.2] true", "n3": "[10.0.0.3] true", "n4": "[10.0.0.4] false"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mesh nodes %v, want %v", got, want)
	}
	res := mesh.Analyze(mn)
	var small, large bytes.Buffer
	if err := printer.MeshText(&small, res, printer.DefaultMatrixMaxNodes); err != nil {
		t.Fatal(err)
	}
	if err := printer.MeshText(&large, res, 3); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"Nodes: 4 (1 without a BGP status)",
		"IPv4 node-to-node mesh: 6 sessions: 2 Up, 4 MissingOnOneSide",
		"IPv4 mesh (row: what the node reports",
		"1 n1 . E E -*",
		"2 n2 E . -* -*",
		"3 n3 E x* . -*",
		"4 n4 ?* ?* ?* .",
		"Broken sessions (4):",
		"IPv4 NodeMesh n2 n3 MissingOnOneSide not configured (no session to the other end) Active: Socket: Connection refused",
		"No BGP status from: n4",
	} {
		if !strings.Contains(squeeze(small.String()), w) {
			t.Errorf("small cluster view lacks %q:\n%s", w, small.String())
		}
	}
	if strings.Contains(large.String(), "mesh (row:") || !strings.Contains(large.String(), "matrix not drawn") || !strings.Contains(large.String(), "Broken sessions (4):") {
		t.Errorf("above the matrix limit: want the broken list only:\n%s", large.String())
	}
	var js bytes.Buffer
	if err := printer.PrintView(&js, &printers.JSONPrinter{}, "json", printer.NewMeshReport(res)); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Kind    string
		Healthy bool
		Counts  map[string]int
		Pairs   []struct {
			Verdict string
			A, B    struct{ Node, State string }
		}
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Kind != "MeshReport" || back.Healthy || back.Counts["Up"] != 2 || len(back.Pairs) != 6 || back.Pairs[3].A.Node != "n2" || back.Pairs[3].B.State != "Down" {
		t.Errorf("JSON: %+v\n%s", back, js.String())
	}
}

func TestMatrixMaxFlag(t *testing.T) {
	for in, want := range map[string]int{"": 20, "auto": 20, "always": 0, "never": -1, "5": 5} {
		if got, err := printer.MatrixMaxFlag(in); err != nil || got != want {
			t.Errorf("MatrixMaxFlag(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "-3", "some"} {
		if _, err := printer.MatrixMaxFlag(bad); err == nil {
			t.Errorf("MatrixMaxFlag(%q) accepted", bad)
		}
	}
}

func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = strings.Join(strings.Fields(lines[i]), " ")
	}
	return strings.Join(lines, "\n")
}
