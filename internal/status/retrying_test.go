package status

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

const (
	stIdle        = v3.BGPSessionStateIdle
	stConnect     = v3.BGPSessionStateConnect
	stActive      = v3.BGPSessionStateActive
	stOpenSent    = v3.BGPSessionStateOpenSent
	stClose       = v3.BGPSessionStateClose
	stEstablished = v3.BGPSessionStateEstablished
	refused       = "Socket: Connection refused"
	noRoute       = "Socket: No route to host"
)

// retryPeer is one peer as a collection maps it; absent means the protocol is gone from BIRD.
type retryPeer struct {
	absent bool
	state  v3.BGPSessionState
	since  string
	info   string
}

// retrySections is one collection of a node with two peers: the one under test (10.99.0.9) and a mesh
// peer that stays Established (so a change elsewhere would show).
func retrySections(p retryPeer) Sections {
	bgp := &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{
		{PeerIP: "10.99.0.2", Type: v3.BGPPeerTypeNodeMesh, State: stEstablished, Since: "2026-11-24 10:00:00", Protocol: "Mesh_10_99_0_2"},
	}, NumberEstablishedV4: 1}
	if !p.absent {
		peer := v3.CalicoNodePeer{PeerIP: "10.99.0.9", Type: v3.BGPPeerTypeNodePeer, State: p.state, Since: p.since,
			Protocol: "Node_10_99_0_9", Info: p.info, NeighborAS: 64512}
		bgp.PeersV4 = append(bgp.PeersV4, peer)
		if p.state == stEstablished {
			bgp.NumberEstablishedV4++
		} else {
			bgp.NumberNotEstablishedV4++
		}
	}
	return Sections{BGP: bgp}
}

// TestRetryingPeerIsNotAChange feeds sequences of collections, as BIRD prints a peer over time, through
// Desired against the status last written (written only when it changed, as the reconciler does) and
// checks after each collection whether it was a change and what the status then says about the peer.
func TestRetryingPeerIsNotAChange(t *testing.T) {
	type step struct {
		peer        retryPeer
		wantChanged bool
		want        retryPeer // the peer in the status held after this step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"Connect/Active/OpenSent cycling with the same error and a moving since", []step{
			{retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}, true, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stActive, since: "2026-11-24 10:01:05", info: refused}, false, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stConnect, since: "2026-11-24 10:01:10", info: refused}, false, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stOpenSent, since: "2026-11-24 10:01:15", info: refused}, false, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stIdle, since: "2026-11-24 10:01:20", info: refused}, false, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stClose, since: "2026-11-24 10:01:25", info: refused}, false, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stActive, since: "2026-11-24 10:31:25", info: refused}, false, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
		}},
		{"the error changes: a change with the state now, since kept", []step{
			{retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: noRoute}, true, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: noRoute}},
			{retryPeer{state: stConnect, since: "2026-11-24 10:01:05", info: noRoute}, false, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: noRoute}},
			{retryPeer{state: stConnect, since: "2026-11-24 10:01:10", info: refused}, true, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stActive, since: "2026-11-24 10:01:15", info: refused}, false, retryPeer{state: stConnect, since: "2026-11-24 10:01:00", info: refused}},
		}},
		{"a first attempt without an error, then the error: one change", []step{
			{retryPeer{state: stConnect, since: "2026-11-24 10:01:00"}, true, retryPeer{state: stConnect, since: "2026-11-24 10:01:00"}},
			{retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}, true, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stConnect, since: "2026-11-24 10:01:08", info: refused}, false, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}},
		}},
		{"retrying, then Established: a change with BIRD's state and since", []step{
			{retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}, true, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stConnect, since: "2026-11-24 10:01:05", info: refused}, false, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stEstablished, since: "2026-11-24 10:02:00"}, true, retryPeer{state: stEstablished, since: "2026-11-24 10:02:00"}},
		}},
		{"retrying, then disabled: a change", []step{
			{retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}, true, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: stIdle, since: "2026-11-24 10:02:00", info: InfoDisabled}, true, retryPeer{state: stIdle, since: "2026-11-24 10:02:00", info: InfoDisabled}},
			{retryPeer{state: stIdle, since: "2026-11-24 10:02:00", info: InfoDisabled}, false, retryPeer{state: stIdle, since: "2026-11-24 10:02:00", info: InfoDisabled}},
		}},
		{"disabled, then enabled and retrying: a change with BIRD's since", []step{
			{retryPeer{state: stIdle, since: "2026-11-24 10:01:00", info: InfoDisabled}, true, retryPeer{state: stIdle, since: "2026-11-24 10:01:00", info: InfoDisabled}},
			{retryPeer{state: stConnect, since: "2026-11-24 10:05:00", info: ""}, true, retryPeer{state: stConnect, since: "2026-11-24 10:05:00"}},
		}},
		{"retrying, then removed: a change", []step{
			{retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}, true, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{absent: true}, true, retryPeer{absent: true}},
		}},
		{"Established, goes down: one change, then stable while BIRD retries", []step{
			{retryPeer{state: stEstablished, since: "2026-11-24 10:00:00"}, true, retryPeer{state: stEstablished, since: "2026-11-24 10:00:00"}},
			{retryPeer{state: stEstablished, since: "2026-11-24 10:00:01"}, false, retryPeer{state: stEstablished, since: "2026-11-24 10:00:00"}},
			{retryPeer{state: stActive, since: "2026-11-24 10:07:00", info: refused}, true, retryPeer{state: stActive, since: "2026-11-24 10:07:00", info: refused}},
			{retryPeer{state: stConnect, since: "2026-11-24 10:07:05", info: refused}, false, retryPeer{state: stActive, since: "2026-11-24 10:07:00", info: refused}},
			{retryPeer{state: stActive, since: "2026-11-24 10:07:10", info: refused}, false, retryPeer{state: stActive, since: "2026-11-24 10:07:00", info: refused}},
			{retryPeer{state: stOpenSent, since: "2026-11-24 10:07:15", info: refused}, false, retryPeer{state: stActive, since: "2026-11-24 10:07:00", info: refused}},
			{retryPeer{state: stEstablished, since: "2026-11-24 10:09:00"}, true, retryPeer{state: stEstablished, since: "2026-11-24 10:09:00"}},
		}},
		{"a state BIRD has no contract word for is never smoothed", []step{
			{retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}, true, retryPeer{state: stActive, since: "2026-11-24 10:01:00", info: refused}},
			{retryPeer{state: "", since: "2026-11-24 10:01:05", info: "Frobnicating (" + refused + ")"}, true, retryPeer{state: "", since: "2026-11-24 10:01:05", info: "Frobnicating (" + refused + ")"}},
		}},
	}
	p := int32(10)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1},
				Spec: v3.CalicoNodeStatusSpec{Node: "n", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: &p}}
			for i, s := range tc.steps {
				sections := retrySections(s.peer)
				next := Desired(obj, sections)
				changed := i == 0 || !SameContent(obj.Status, next)
				if changed != s.wantChanged {
					t.Fatalf("step %d (%+v): changed = %t, want %t", i+1, s.peer, changed, s.wantChanged)
				}
				if changed {
					obj.Status = next // written
				}
				got := peerOf(obj.Status.BGP, "10.99.0.9")
				if got != s.want {
					t.Fatalf("step %d (%+v): status says %+v, want %+v", i+1, s.peer, got, s.want)
				}
				if b := obj.Status.BGP; b.NumberEstablishedV4+b.NumberNotEstablishedV4 != len(b.PeersV4) ||
					(got.state == stEstablished) != (b.NumberEstablishedV4 == 2) {
					t.Fatalf("step %d: counts %d/%d disagree with the peers %+v", i+1, b.NumberEstablishedV4, b.NumberNotEstablishedV4, b.PeersV4)
				}
				// Desired must not edit the collection it was given: a write retried after a conflict
				// computes the status again from the same sections.
				if fresh := retrySections(s.peer); !SameContent(v3.CalicoNodeStatusStatus{BGP: sections.BGP}, v3.CalicoNodeStatusStatus{BGP: fresh.BGP}) {
					t.Fatalf("step %d: Desired edited the collected sections", i+1)
				}
			}
		})
	}
}

func peerOf(b *v3.CalicoNodeBGPStatus, ip string) retryPeer {
	for _, p := range b.PeersV4 {
		if p.PeerIP == ip {
			return retryPeer{state: p.State, since: p.Since, info: p.Info}
		}
	}
	return retryPeer{absent: true}
}

// The same peer address in the other family, or a second protocol to the same address, is another
// session: smoothing one must not touch the other.
func TestRetryingPeerKeyedByFamilyAddressZoneAndProtocol(t *testing.T) {
	peer := func(proto, zone string, st v3.BGPSessionState, since string) v3.CalicoNodePeer {
		return v3.CalicoNodePeer{PeerIP: "fe80::1", Zone: zone, Protocol: proto, State: st, Since: since, Info: refused}
	}
	prev := v3.CalicoNodeStatusStatus{BGP: &v3.CalicoNodeBGPStatus{
		PeersV6: []v3.CalicoNodePeer{peer("Node_fe80__1", "eth0", stActive, "10:00:00")}}}
	next := v3.CalicoNodeStatusStatus{BGP: &v3.CalicoNodeBGPStatus{
		PeersV4: []v3.CalicoNodePeer{peer("Node_fe80__1", "eth0", stConnect, "10:00:05")},
		PeersV6: []v3.CalicoNodePeer{
			peer("Node_fe80__1", "eth0", stConnect, "10:00:05"),
			peer("Node_fe80__1", "eth1", stConnect, "10:00:05"),
			peer("Node_fe80__1_port_1790", "eth0", stConnect, "10:00:05"),
		}}}
	keepRetryingPeers(&prev, &next)
	if got := next.BGP.PeersV6[0]; got.State != stActive || got.Since != "10:00:00" {
		t.Errorf("the same session was not smoothed: %+v", got)
	}
	for _, got := range append(next.BGP.PeersV6[1:], next.BGP.PeersV4...) {
		if got.State != stConnect || got.Since != "10:00:05" {
			t.Errorf("another session took the retrying peer's state: %+v", got)
		}
	}
}
