package mesh_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/mesh"
)

const (
	E = v3.BGPSessionStateEstablished
	A = v3.BGPSessionStateActive
	I = v3.BGPSessionStateIdle
)

// node i has 10.0.0.i and fd00::i.
func addrs(i int) []netip.Addr {
	return []netip.Addr{netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i)), netip.MustParseAddr(fmt.Sprintf("fd00::%d", i))}
}

func sess(typ v3.BGPPeerType, peer string, state v3.BGPSessionState, info string) mesh.Session {
	a := netip.MustParseAddr(peer)
	fam := v3.IPFamilyV4
	if a.Is6() {
		fam = v3.IPFamilyV6
	}
	return mesh.Session{Family: fam, Peer: a, Type: typ, State: state, Info: info}
}

func m(peer string, state v3.BGPSessionState) mesh.Session {
	return sess(v3.BGPPeerTypeNodeMesh, peer, state, "")
}

func node(i int, sessions ...mesh.Session) mesh.Node {
	return mesh.Node{Name: fmt.Sprintf("n%d", i), Addrs: addrs(i), Report: &mesh.Report{Object: fmt.Sprintf("n%d-status", i), Sessions: sessions}}
}

func silent(i int) mesh.Node { return mesh.Node{Name: fmt.Sprintf("n%d", i), Addrs: addrs(i)} }

// verdicts renders the pairs as "family kind a-b: verdict" (b: the peer for external ones).
func verdicts(r mesh.Result) []string {
	var out []string
	for _, p := range r.Pairs {
		b := p.B.Node
		if p.Kind == mesh.KindExternal {
			b = p.Peer
		}
		out = append(out, fmt.Sprintf("%s %s %s-%s: %s", p.Family, p.Kind, p.A.Node, b, p.Verdict))
	}
	return out
}

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name  string
		nodes []mesh.Node
		want  []string
	}{
		{"full mesh up, v4 only", []mesh.Node{
			node(1, m("10.0.0.2", E), m("10.0.0.3", E)),
			node(2, m("10.0.0.1", E), m("10.0.0.3", E)),
			node(3, m("10.0.0.1", E), m("10.0.0.2", E)),
		}, []string{"IPv4 NodeMesh n1-n2: Up", "IPv4 NodeMesh n1-n3: Up", "IPv4 NodeMesh n2-n3: Up"}},
		{"both down", []mesh.Node{
			node(1, m("10.0.0.2", A)),
			node(2, m("10.0.0.1", I)),
		}, []string{"IPv4 NodeMesh n1-n2: Down"}},
		{"one-sided: established on one end, down on the other", []mesh.Node{
			node(1, m("10.0.0.2", E)),
			node(2, m("10.0.0.1", A)),
		}, []string{"IPv4 NodeMesh n1-n2: OneSided"}},
		{"one-sided: established on one end, not listed on the other", []mesh.Node{
			node(1, m("10.0.0.2", E), m("10.0.0.3", E)),
			node(2, m("10.0.0.1", E)),
			node(3, m("10.0.0.1", E), m("10.0.0.2", E)),
		}, []string{"IPv4 NodeMesh n1-n2: Up", "IPv4 NodeMesh n1-n3: Up", "IPv4 NodeMesh n2-n3: OneSided"}},
		{"missing on one side: down on one end, not listed on the other", []mesh.Node{
			node(1, m("10.0.0.2", A)),
			node(2),
		}, []string{"IPv4 NodeMesh n1-n2: MissingOnOneSide"}},
		{"missing on both", []mesh.Node{
			node(1, m("10.0.0.2", E)),
			node(2, m("10.0.0.1", E)),
			node(3),
		}, []string{"IPv4 NodeMesh n1-n2: Up", "IPv4 NodeMesh n1-n3: MissingOnBoth", "IPv4 NodeMesh n2-n3: MissingOnBoth"}},
		{"a node without a report: unknown where the other end is fine, down where it is not", []mesh.Node{
			node(1, m("10.0.0.2", E), m("10.0.0.3", A)),
			node(2, m("10.0.0.1", E)),
			silent(3),
		}, []string{"IPv4 NodeMesh n1-n2: Up", "IPv4 NodeMesh n1-n3: Down", "IPv4 NodeMesh n2-n3: MissingOnOneSide"}},
		{"two families are two meshes", []mesh.Node{
			node(1, m("10.0.0.2", E), m("fd00::2", E)),
			node(2, m("10.0.0.1", E), m("fd00::1", A)),
		}, []string{"IPv4 NodeMesh n1-n2: Up", "IPv6 NodeMesh n1-n2: OneSided"}},
		{"no mesh reported: no pair expected (route reflectors)", []mesh.Node{
			node(1, sess(v3.BGPPeerTypeNodePeer, "10.0.0.3", E, "")),
			node(2, sess(v3.BGPPeerTypeNodePeer, "10.0.0.3", E, "")),
			node(3, sess(v3.BGPPeerTypeGlobalPeer, "10.0.0.1", E, ""), sess(v3.BGPPeerTypeGlobalPeer, "10.0.0.2", A, "Socket: Connection refused")),
		}, []string{"IPv4 NodePair n1-n3: Up", "IPv4 NodePair n2-n3: OneSided"}},
		{"an explicit peer of one node that the other end does not list", []mesh.Node{
			node(1, sess(v3.BGPPeerTypeNodePeer, "10.0.0.2", A, "")),
			node(2),
		}, []string{"IPv4 NodePair n1-n2: MissingOnOneSide"}},
		{"external peers: judged by their one end", []mesh.Node{
			node(1, sess(v3.BGPPeerTypeGlobalPeer, "10.0.0.254", E, ""), sess(v3.BGPPeerTypeNodePeer, "10.0.0.253", A, "Socket: No route to host")),
			node(2, sess(v3.BGPPeerTypeGlobalPeer, "10.0.0.254", E, "")),
		}, []string{"IPv4 External n1-10.0.0.253: Down", "IPv4 External n1-10.0.0.254: Up", "IPv4 External n2-10.0.0.254: Up"}},
		{"a mesh session to an address of no node: judged as external", []mesh.Node{
			node(1, m("10.0.0.2", E), m("10.0.0.9", A)),
			node(2, m("10.0.0.1", E)),
		}, []string{"IPv4 NodeMesh n1-n2: Up", "IPv4 External n1-10.0.0.9: Down"}},
		{"mesh and an explicit peer between the same nodes: both compared", []mesh.Node{
			node(1, m("10.0.0.2", E), sess(v3.BGPPeerTypeNodePeer, "10.0.0.2", E, "")),
			node(2, m("10.0.0.1", E), sess(v3.BGPPeerTypeNodePeer, "10.0.0.1", E, "")),
		}, []string{"IPv4 NodeMesh n1-n2: Up", "IPv4 NodePair n1-n2: Up"}},
		{"input order does not matter", []mesh.Node{
			node(3, m("10.0.0.1", E), m("10.0.0.2", E)),
			node(2, m("10.0.0.3", E), m("10.0.0.1", E)),
			node(1, m("10.0.0.3", E), m("10.0.0.2", E)),
		}, []string{"IPv4 NodeMesh n1-n2: Up", "IPv4 NodeMesh n1-n3: Up", "IPv4 NodeMesh n2-n3: Up"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mesh.Analyze(tt.nodes)
			if got := verdicts(r); !slices.Equal(got, tt.want) {
				t.Errorf("pairs:\n  got  %q\n  want %q", got, tt.want)
			}
			for _, p := range r.Pairs {
				if p.Broken != (p.Verdict != mesh.Up && p.Verdict != mesh.Unknown) {
					t.Errorf("%+v: broken %t for verdict %s", p, p.Broken, p.Verdict)
				}
			}
		})
	}
}

func TestAnalyzeKeepsWhatEachEndSays(t *testing.T) {
	r := mesh.Analyze([]mesh.Node{
		node(1, sess(v3.BGPPeerTypeNodeMesh, "10.0.0.2", I, "Down (disabled)")),
		node(2, sess(v3.BGPPeerTypeNodeMesh, "10.0.0.1", A, "Socket: Connection refused")),
		silent(3),
	})
	broken := r.Broken()
	if len(broken) != 3 {
		t.Fatalf("broken pairs %q, want n1-n2 (down), n1-n3 and n2-n3 (missing on the reporting side)", verdicts(r))
	}
	p := broken[0]
	if p.A.Says() != "Idle: Down (disabled)" || p.B.Says() != "Active: Socket: Connection refused" {
		t.Errorf("n1-n2: a says %q, b says %q", p.A.Says(), p.B.Says())
	}
	if p.A.Session.Info != "Down (disabled)" || p.B.Node != "n2" {
		t.Errorf("n1-n2 ends: %+v / %+v", p.A, p.B)
	}
	if got := broken[1].B.Says(); got != "no report" {
		t.Errorf("n1-n3: n3 says %q", got)
	}
	if !slices.Equal(r.NoReport, []string{"n3"}) || r.Counts()[mesh.Down] != 1 || r.Counts()[mesh.MissingOnOneSide] != 2 {
		t.Errorf("no report %q, counts %v", r.NoReport, r.Counts())
	}
	stale := node(1, m("10.0.0.2", E))
	stale.Report.Stale = "last updated 1h ago"
	r = mesh.Analyze([]mesh.Node{stale, node(2, m("10.0.0.1", E))})
	if !slices.Equal(r.Stale, []string{"n1"}) || !strings.HasSuffix(r.Pairs[0].A.Says(), "[stale]") || r.Pairs[0].Verdict != mesh.Up {
		t.Errorf("stale end: %+v", r)
	}
}

func TestNodeAddresses(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{
		mesh.AnnotationIPv4Address: "10.0.0.1/24", mesh.AnnotationIPv6Address: "fd00::1/64"}},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: "n1"},
			{Type: corev1.NodeExternalIP, Address: "203.0.113.1"},
			{Type: corev1.NodeInternalIP, Address: "10.0.0.1"},
			{Type: corev1.NodeInternalIP, Address: "192.168.1.1"},
		}}}
	var got []string
	for _, a := range mesh.NodeAddresses(n) {
		got = append(got, a.String())
	}
	if want := []string{"10.0.0.1", "192.168.1.1", "fd00::1"}; !slices.Equal(got, want) {
		t.Errorf("addresses %q, want %q (InternalIP and Calico's annotations, once each)", got, want)
	}
}
