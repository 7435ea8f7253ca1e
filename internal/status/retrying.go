package status

import (
	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// keepRetryingPeers smooths BIRD's retry cycle against the previously written status, as keepStableTimes
// smooths its clock jitter. A session nobody answers moves between Connect, Active and OpenSent (and back
// through Idle or Close) every few seconds while BIRD retries it, often with a new since each time, yet
// nothing an operator needs to know changed: it is still down, for the same reason, since the same time.
// Writing each step cost one status write about every second period per such peer and node (issue 10).
//
// The rule, for a peer (same family, address, zone and protocol) that is retrying in both prev and next
// (see retrying):
//   - same Info (BIRD's last error, e.g. "Socket: Connection refused"): the peer is not a change. next
//     takes prev's state, since and info, so the status keeps the state written when the peer was first
//     seen down with this error.
//   - Info changed: a change, written with the state BIRD reports now; since stays prev's, which is when
//     the peer stopped being Established (or was first seen down), not when BIRD last cycled.
//
// Becoming Established, disabled ("Down (disabled)"), removed, added, or an unknown state is never
// smoothed: those always show in the next write with BIRD's own state and since.
func keepRetryingPeers(prev, next *v3.CalicoNodeStatusStatus) {
	if prev.BGP == nil || next.BGP == nil {
		return
	}
	keepRetrying(prev.BGP.PeersV4, next.BGP.PeersV4)
	keepRetrying(prev.BGP.PeersV6, next.BGP.PeersV6)
}

func keepRetrying(prev, next []v3.CalicoNodePeer) {
	type key struct{ ip, zone, protocol string }
	old := make(map[key]*v3.CalicoNodePeer, len(prev))
	for i := range prev {
		old[key{prev[i].PeerIP, prev[i].Zone, prev[i].Protocol}] = &prev[i]
	}
	for i := range next {
		n := &next[i]
		p, ok := old[key{n.PeerIP, n.Zone, n.Protocol}]
		if !ok || !retrying(p) || !retrying(n) {
			continue
		}
		n.Since = p.Since
		if n.Info == p.Info {
			n.State = p.State
		}
	}
}

// retrying reports whether a peer is down in a way BIRD keeps retrying: a known state other than
// Established, and not switched off on purpose (disabled, which BIRD does not retry).
func retrying(p *v3.CalicoNodePeer) bool {
	return p.State != "" && p.State != v3.BGPSessionStateEstablished && p.Info != InfoDisabled
}
