package agent

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// EventRecorder records Kubernetes Events (events.k8s.io); the manager's recorder implements it.
type EventRecorder interface {
	Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...interface{})
}

// Event reasons.
const (
	EventPeerEstablished = "PeerEstablished"
	EventPeerDown        = "PeerDown"
)

// peerTransition is a peer that reached or left Established between two statuses.
type peerTransition struct {
	family, peerIP, protocol string
	established              bool
	state                    v3.BGPSessionState
	info                     string
}

// peerTransitions compares the peers of two BGP sections. A peer that appears already established counts
// as reaching Established; one that disappears while established counts as leaving it.
func peerTransitions(before, after *v3.CalicoNodeBGPStatus) []peerTransition {
	if after == nil {
		return nil // the BGP class was removed: peers were not observed going down
	}
	type key struct{ family, ip string }
	old := map[key]v3.CalicoNodePeer{}
	if before != nil {
		for fam, ps := range map[string][]v3.CalicoNodePeer{"IPv4": before.PeersV4, "IPv6": before.PeersV6} {
			for _, p := range ps {
				old[key{fam, p.PeerIP}] = p
			}
		}
	}
	var out []peerTransition
	seen := map[key]bool{}
	for _, fam := range []string{"IPv4", "IPv6"} {
		ps := after.PeersV4
		if fam == "IPv6" {
			ps = after.PeersV6
		}
		for _, p := range ps {
			k := key{fam, p.PeerIP}
			seen[k] = true
			was, existed := old[k]
			if !existed && before != nil && !complete(before, fam) {
				// before did not list every session (counts only, or a cut list): not seen is not down.
				continue
			}
			wasUp := existed && was.State == v3.BGPSessionStateEstablished
			isUp := p.State == v3.BGPSessionStateEstablished
			if before != nil && wasUp != isUp {
				out = append(out, peerTransition{fam, p.PeerIP, p.Protocol, isUp, p.State, p.Info})
			}
		}
	}
	for k, p := range old {
		// A family whose protocols could not be read has no peers in after: that says nothing about them.
		if !seen[k] && p.State == v3.BGPSessionStateEstablished && !uncollected(after, k.family) && complete(after, k.family) {
			out = append(out, peerTransition{k.family, k.ip, p.Protocol, false, "", "peer no longer configured"})
		}
	}
	return out
}

// complete reports whether b lists every session of a family its counts include: not so in a counts-only
// status (fallback.go) or a list cut by its cap or the status budget.
func complete(b *v3.CalicoNodeBGPStatus, family string) bool {
	if family == "IPv6" {
		return int64(len(b.PeersV6)) >= int64(b.NumberEstablishedV6+b.NumberNotEstablishedV6)
	}
	return int64(len(b.PeersV4)) >= int64(b.NumberEstablishedV4+b.NumberNotEstablishedV4)
}

// uncollected reports whether the BGP section says a family's sessions could not be read.
func uncollected(b *v3.CalicoNodeBGPStatus, family string) bool {
	for _, is := range b.Issues {
		if (is.Family == "" || string(is.Family) == family) && is.Reason != v3.ReasonPartialParse {
			return true
		}
	}
	return false
}

// eventLimiter lets one event per object, peer and reason through per interval, so a flapping session
// cannot flood the API server with Events.
type eventLimiter struct {
	interval time.Duration
	mu       sync.Mutex
	last     map[string]time.Time
}

func (l *eventLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if t, ok := l.last[key]; ok && now.Sub(t) < l.interval {
		return false
	}
	l.last[key] = now
	// Keep the map small: drop entries older than the interval.
	if len(l.last) > 1024 {
		for k, t := range l.last {
			if now.Sub(t) >= l.interval {
				delete(l.last, k)
			}
		}
	}
	return true
}

func (t peerTransition) reasonAndNote() (eventtype, reason, note string) {
	if t.established {
		return "Normal", EventPeerEstablished, fmt.Sprintf("%s peer %s (%s) is Established", t.family, t.peerIP, t.protocol)
	}
	note = fmt.Sprintf("%s peer %s (%s) left Established", t.family, t.peerIP, t.protocol)
	if t.state != "" {
		note += fmt.Sprintf(", now %s", t.state)
	}
	if t.info != "" {
		note += ": " + t.info
	}
	return "Warning", EventPeerDown, note
}
