package agent

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
)

// flapTracker keeps, per BGP session of the node, what the agent saw at the last collection, to count the
// times a session left Established (FlapCount) and remember when it was last Established (LastEstablished).
// It sees every fresh snapshot (status collections and the metrics loop alike), so the more often BIRD is
// read, the fewer flaps hide between two reads; a flap that both starts and ends between two reads still
// shows as a later since of an Established session.
//
// The history is the agent's memory since it started; when it first sees a session it continues from the
// count and time the object's status holds, so a restarted agent neither forgets flaps nor writes a status
// only to reset them. Nothing here changes unless a session changes state or flaps, so it never causes a
// write of its own.
type flapTracker struct {
	mu      sync.Mutex
	lastSeq uint64
	peers   map[peerKey]*peerHistory
}

type peerKey struct {
	family                 v3.IPFamily
	ip, zone, protocolName string
}

type peerHistory struct {
	state           v3.BGPSessionState
	since           string
	flaps           int32
	lastEstablished *metav1.Time
	// seeded: the count and time were taken from a status (or there was none to take) after a restart.
	seeded bool
}

func keyOf(fam v3.IPFamily, p *v3.CalicoNodePeer) peerKey {
	return peerKey{family: fam, ip: p.PeerIP, zone: p.Zone, protocolName: p.Protocol}
}

// observe takes the sessions of one fresh snapshot (seq numbers snapshots; one already seen is ignored, so
// every caller may hand over what it collected). now is the collection time.
func (f *flapTracker) observe(seq uint64, bgp *v3.CalicoNodeBGPStatus, now time.Time) {
	if bgp == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq != 0 && seq <= f.lastSeq {
		return
	}
	f.lastSeq = seq
	if f.peers == nil {
		f.peers = map[peerKey]*peerHistory{}
	}
	seen := map[peerKey]bool{}
	for _, fl := range []struct {
		fam   v3.IPFamily
		peers []v3.CalicoNodePeer
	}{{v3.IPFamilyV4, bgp.PeersV4}, {v3.IPFamilyV6, bgp.PeersV6}} {
		for i := range fl.peers {
			p := &fl.peers[i]
			k := keyOf(fl.fam, p)
			seen[k] = true
			h, ok := f.peers[k]
			if !ok {
				f.peers[k] = &peerHistory{state: p.State, since: p.Since}
				continue
			}
			wasUp, isUp := h.state == v3.BGPSessionStateEstablished, p.State == v3.BGPSessionStateEstablished
			switch {
			case wasUp && !isUp:
				h.flaps++
				h.lastEstablished = leftEstablishedAt(p.Since, now)
			case wasUp && isUp && !status.SameBIRDTime(h.since, p.Since):
				// Down and up again between two reads: BIRD's since moved on.
				h.flaps++
			}
			h.state, h.since = p.State, p.Since
		}
	}
	// A session gone from a complete list left BIRD's configuration: its history goes with it. With an
	// issue or a cut list, absence proves nothing.
	if len(bgp.Issues) == 0 && !bgp.PeersTruncated {
		for k := range f.peers {
			if !seen[k] {
				delete(f.peers, k)
			}
		}
	}
}

// leftEstablishedAt is when a session left Established: BIRD's since of its new state when it reads as a
// time, otherwise the collection that saw it.
func leftEstablishedAt(since string, now time.Time) *metav1.Time {
	if t, ok := parseBIRDTime(since, now); ok && !t.After(now) {
		return &metav1.Time{Time: t.UTC().Truncate(time.Second)}
	}
	return &metav1.Time{Time: now.UTC().Truncate(time.Second)}
}

// annotate returns bgp with every session's FlapCount and LastEstablished. prev is the BGP section the
// object holds now: a session the agent has not yet seeded since it started takes its count and time
// from there. bgp itself is not modified (it may be shared by several objects' builds).
func (f *flapTracker) annotate(prev, bgp *v3.CalicoNodeBGPStatus) *v3.CalicoNodeBGPStatus {
	if bgp == nil {
		return nil
	}
	out := bgp.DeepCopy()
	f.mu.Lock()
	defer f.mu.Unlock()
	old := map[peerKey]*v3.CalicoNodePeer{}
	if prev != nil {
		for fam, ps := range map[v3.IPFamily][]v3.CalicoNodePeer{v3.IPFamilyV4: prev.PeersV4, v3.IPFamilyV6: prev.PeersV6} {
			for i := range ps {
				old[keyOf(fam, &ps[i])] = &ps[i]
			}
		}
	}
	for fam, ps := range map[v3.IPFamily][]v3.CalicoNodePeer{v3.IPFamilyV4: out.PeersV4, v3.IPFamilyV6: out.PeersV6} {
		for i := range ps {
			p := &ps[i]
			k := keyOf(fam, p)
			h := f.peers[k]
			if h == nil {
				continue // not observed (no fresh snapshot with it yet): nothing known
			}
			if !h.seeded {
				h.seeded = true
				if o := old[k]; o != nil {
					h.flaps += o.FlapCount
					if h.lastEstablished == nil && o.LastEstablished != nil {
						t := *o.LastEstablished
						h.lastEstablished = &t
					}
				}
			}
			p.FlapCount = h.flaps
			p.LastEstablished = nil
			if p.State != v3.BGPSessionStateEstablished && h.lastEstablished != nil {
				t := *h.lastEstablished
				p.LastEstablished = &t
			}
		}
	}
	return out
}

// flapHistory is the reconciler's hook: it hands snapshot seq's sessions to the tracker (once per
// snapshot, whoever collected it) and returns bgp annotated with the history, seeded from prev (the BGP
// section the object holds) for sessions the agent has not seeded since it started.
func (r *Reconciler) flapHistory(seq uint64, snap bird.Snapshot, union bird.Need, prev, bgp *v3.CalicoNodeBGPStatus, now time.Time) *v3.CalicoNodeBGPStatus {
	if union.Protocols {
		all, _ := r.builds.sections(seq, snap, []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, r.Collect)
		r.flaps.observe(seq, all.BGP, now)
	}
	return r.flaps.annotate(prev, bgp)
}
