package status

import (
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// birdTimeJitter is how far BIRD moves the printed time of one and the same event between two reads.
// BIRD 1.6 prints now_real - (now - t) (sysdep/unix/io.c, tm_format_datetime), with now (monotonic) and
// now_real (wall clock) both truncated to seconds: depending on when in the second it is asked, the
// same boot time or session change comes out one second earlier or later. BIRD 2 computes it the same way
// from finer clocks. Without this, an unchanged daemon would look changed, and be written, whenever a
// collection falls on the other side of that boundary (a new object, a spec change, an agent restart, or
// scheduling delay near the boundary).
const birdTimeJitter = time.Second

// birdTimeLayouts are the forms of BIRD's printed times that can jitter (iso long and BIRD's defaults,
// with and without milliseconds). A date alone does not jitter.
var birdTimeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04:05.000", "15:04:05", "15:04:05.000"}

// sameBIRDTime reports whether a and b are the same event's time as BIRD printed it in two reads: equal,
// or in the same layout at most birdTimeJitter apart.
func sameBIRDTime(a, b string) bool {
	if a == b {
		return true
	}
	for _, layout := range birdTimeLayouts {
		ta, errA := time.Parse(layout, a)
		tb, errB := time.Parse(layout, b)
		if errA == nil && errB == nil {
			d := ta.Sub(tb)
			return d <= birdTimeJitter && d >= -birdTimeJitter
		}
	}
	return false
}

// keepStableTimes puts prev's printed times into next where next says the same thing and only BIRD's
// jitter moved the time: a daemon with the same state and version, a peer (same family, address, zone and
// protocol) in the same state. A real change of state always carries the new time.
func keepStableTimes(prev, next *v3.CalicoNodeStatusStatus) {
	if prev.Agent != nil && next.Agent != nil {
		for _, pair := range [][2]*v3.BGPDaemonStatus{{prev.Agent.BIRDV4, next.Agent.BIRDV4}, {prev.Agent.BIRDV6, next.Agent.BIRDV6}} {
			p, n := pair[0], pair[1]
			if p == nil || n == nil || p.State != n.State || p.Version != n.Version {
				continue
			}
			if sameBIRDTime(p.LastBootTime, n.LastBootTime) {
				n.LastBootTime = p.LastBootTime
			}
			if sameBIRDTime(p.LastReconfigurationTime, n.LastReconfigurationTime) {
				n.LastReconfigurationTime = p.LastReconfigurationTime
			}
		}
	}
	if prev.BGP != nil && next.BGP != nil {
		keepPeerTimes(prev.BGP.PeersV4, next.BGP.PeersV4)
		keepPeerTimes(prev.BGP.PeersV6, next.BGP.PeersV6)
	}
}

func keepPeerTimes(prev, next []v3.CalicoNodePeer) {
	type key struct{ ip, zone, protocol string }
	old := make(map[key]*v3.CalicoNodePeer, len(prev))
	for i := range prev {
		old[key{prev[i].PeerIP, prev[i].Zone, prev[i].Protocol}] = &prev[i]
	}
	for i := range next {
		n := &next[i]
		if p, ok := old[key{n.PeerIP, n.Zone, n.Protocol}]; ok && p.State == n.State && sameBIRDTime(p.Since, n.Since) {
			n.Since = p.Since
		}
	}
}
