package status

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// BIRD 1.6 prints the same boot time or session change one second apart depending on when in the second
// it is asked (found by test/e2e on a real BIRD 1.6: an object created off the node's grid was rewritten
// at the next on-grid collection with every time one second earlier). Such a collection must not be a
// change; a real change must.
func TestDesiredStatusIgnoresBIRDTimeJitter(t *testing.T) {
	p := int32(10)
	classes := []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP}
	sections := func(boot, reconf, since string, state v3.BGPSessionState, version string) Sections {
		d := func() *v3.BGPDaemonStatus {
			return &v3.BGPDaemonStatus{State: v3.BGPDaemonStateReady, Version: version, RouterID: "10.99.0.1",
				LastBootTime: boot, LastReconfigurationTime: reconf}
		}
		return Sections{
			Agent: &v3.CalicoNodeAgentStatus{BIRDV4: d(), BIRDV6: d()},
			BGP: &v3.CalicoNodeBGPStatus{NumberEstablishedV4: 1, PeersV4: []v3.CalicoNodePeer{
				{PeerIP: "10.99.0.2", Type: v3.BGPPeerTypeNodeMesh, State: state, Since: since, Protocol: "Mesh_10_99_0_2"}}},
		}
	}
	const est = v3.BGPSessionStateEstablished
	tests := []struct {
		name        string
		next        Sections
		wantChanged bool
	}{
		{"same times", sections("2026-11-24 10:53:15", "2026-11-24 10:53:15", "2026-11-24 10:53:16", est, "1.6.8"), false},
		{"every time one second earlier (iso long)", sections("2026-11-24 10:53:14", "2026-11-24 10:53:14", "2026-11-24 10:53:15", est, "1.6.8"), false},
		{"one second later", sections("2026-11-24 10:53:16", "2026-11-24 10:53:16", "2026-11-24 10:53:17", est, "1.6.8"), false},
		{"two seconds: a real restart", sections("2026-11-24 10:53:17", "2026-11-24 10:53:17", "2026-11-24 10:53:16", est, "1.6.8"), true},
		{"session changed state within the second", sections("2026-11-24 10:53:15", "2026-11-24 10:53:15", "2026-11-24 10:53:17", v3.BGPSessionStateActive, "1.6.8"), true},
		{"session re-established later", sections("2026-11-24 10:53:15", "2026-11-24 10:53:15", "2026-11-24 10:58:00", est, "1.6.8"), true},
		{"other version", sections("2026-11-24 10:53:14", "2026-11-24 10:53:14", "2026-11-24 10:53:16", est, "2.0.12"), true},
		{"not a time", sections("soon", "2026-11-24 10:53:15", "2026-11-24 10:53:16", est, "1.6.8"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1},
				Spec: v3.CalicoNodeStatusSpec{Node: "n", Classes: classes, UpdatePeriodSeconds: &p}}
			obj.Status = Desired(obj, sections("2026-11-24 10:53:15", "2026-11-24 10:53:15", "2026-11-24 10:53:16", est, "1.6.8"))
			next := Desired(obj, tc.next)
			if changed := !SameContent(obj.Status, next); changed != tc.wantChanged {
				t.Fatalf("changed = %t, want %t (next %+v %+v)", changed, tc.wantChanged, next.Agent.BIRDV4, next.BGP.PeersV4)
			}
			if tc.wantChanged && tc.next.BGP.PeersV4[0].State != est && next.BGP.PeersV4[0].Since != "2026-11-24 10:53:17" {
				t.Errorf("a state change kept the old since: %q", next.BGP.PeersV4[0].Since)
			}
		})
	}
}

func TestSameBIRDTime(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"2026-11-24 10:53:15", "2026-11-24 10:53:15", true},
		{"2026-11-24 10:53:15", "2026-11-24 10:53:14", true},
		{"2026-11-24 23:59:59", "2026-11-25 00:00:00", true},
		{"2026-11-24 10:53:15", "2026-11-24 10:53:13", false},
		{"10:53:15", "10:53:16", true},
		{"10:53:15.120", "10:53:15.121", true},
		{"10:53:15.120", "10:53:17.121", false},
		{"10:53:15", "2026-11-24 10:53:15", false},
		{"2026-11-24", "2026-11-25", false},
		{"", "10:53:15", false},
	} {
		if got := sameBIRDTime(tc.a, tc.b); got != tc.want {
			t.Errorf("sameBIRDTime(%q, %q) = %t, want %t", tc.a, tc.b, got, tc.want)
		}
	}
}
