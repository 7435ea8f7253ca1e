package agent

import (
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

func TestPeerTransitions(t *testing.T) {
	peer := func(ip string, st v3.BGPSessionState) v3.CalicoNodePeer {
		return v3.CalicoNodePeer{PeerIP: ip, State: st, Protocol: "Mesh_" + ip}
	}
	before := &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{
		peer("10.0.0.1", v3.BGPSessionStateEstablished), peer("10.0.0.2", v3.BGPSessionStateActive), peer("10.0.0.3", v3.BGPSessionStateEstablished)}}
	after := &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{
		peer("10.0.0.1", v3.BGPSessionStateIdle), peer("10.0.0.2", v3.BGPSessionStateEstablished)}}
	got := map[string]bool{}
	for _, tr := range peerTransitions(before, after) {
		got[tr.peerIP] = tr.established
	}
	want := map[string]bool{"10.0.0.1": false, "10.0.0.2": true, "10.0.0.3": false}
	if len(got) != len(want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	for ip, up := range want {
		if g, ok := got[ip]; !ok || g != up {
			t.Errorf("peer %s: transition to established=%v missing or wrong (got %v)", ip, up, got)
		}
	}
	// The daemon of a family cannot be read: its peers are missing from after, which is not news about them.
	unreadable := &v3.CalicoNodeBGPStatus{Issues: []v3.StatusIssue{{Family: v3.IPFamilyV4, Reason: v3.ReasonDaemonUnreachable}}}
	if tr := peerTransitions(before, unreadable); len(tr) != 0 {
		t.Errorf("an unreachable daemon gave peer transitions %v", tr)
	}
	if tr := peerTransitions(after, after); len(tr) != 0 {
		t.Errorf("no change gave transitions %v", tr)
	}
	if tr := peerTransitions(nil, after); len(tr) != 0 {
		t.Errorf("first observation gave transitions %v; peers already up are not news", tr)
	}
	// A status without its lists (counts only) or with a cut list says nothing about the peers it leaves out:
	// going back to the full lists is not a peer coming up, a cut list is not a peer going away.
	full := &v3.CalicoNodeBGPStatus{NumberEstablishedV4: 2, PeersV4: []v3.CalicoNodePeer{
		peer("10.0.0.1", v3.BGPSessionStateEstablished), peer("10.0.0.3", v3.BGPSessionStateEstablished)}}
	countsOnly := &v3.CalicoNodeBGPStatus{NumberEstablishedV4: 2}
	if tr := peerTransitions(countsOnly, full); len(tr) != 0 {
		t.Errorf("counts only -> full lists gave transitions %v", tr)
	}
	if tr := peerTransitions(full, countsOnly); len(tr) != 0 {
		t.Errorf("full lists -> counts only gave transitions %v", tr)
	}
	cut := &v3.CalicoNodeBGPStatus{NumberEstablishedV4: 1, NumberNotEstablishedV4: 1, PeersV4: []v3.CalicoNodePeer{
		peer("10.0.0.3", v3.BGPSessionStateIdle)}}
	if tr := peerTransitions(full, cut); len(tr) != 1 || tr[0].peerIP != "10.0.0.3" || tr[0].established {
		t.Errorf("full -> cut list gave transitions %v, want 10.0.0.3 down only", tr)
	}
}

func TestEventLimiter(t *testing.T) {
	l := &eventLimiter{interval: time.Minute}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if !l.allow("a", now) || l.allow("a", now.Add(30*time.Second)) || !l.allow("b", now) || !l.allow("a", now.Add(time.Minute)) {
		t.Fatal("limiter does not allow one event per key per interval")
	}
}

// Events come from Established transitions only: a peer cycling between states that are not Established
// gives none, whatever its state and since do.
func TestPeerTransitionsIgnoreRetryCycling(t *testing.T) {
	states := []v3.BGPSessionState{v3.BGPSessionStateConnect, v3.BGPSessionStateActive, v3.BGPSessionStateOpenSent,
		v3.BGPSessionStateIdle, v3.BGPSessionStateClose, v3.BGPSessionStateOpenConfirm}
	for i := range states {
		for j := range states {
			before := &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{{PeerIP: "10.0.0.9", State: states[i], Since: "10:00:00", Info: refused}}}
			after := &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{{PeerIP: "10.0.0.9", State: states[j], Since: "10:00:07", Info: noRoute}}}
			if tr := peerTransitions(before, after); len(tr) != 0 {
				t.Errorf("%s -> %s gave transitions %+v", states[i], states[j], tr)
			}
		}
	}
}
