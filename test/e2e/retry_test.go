package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// testRetryingPeersNoWrites: node1's peers nobody answers for (the lab's 10.99.0.253 and fd00:99::fd) are
// retried by BIRD every few seconds, which moves their printed state (Connect, Active) and at times their
// since. Over several periods, and until the test has seen BIRD change them at least twice, the agent
// writes nothing (issue 10: it wrote about every second period); the status still lists them as down,
// with BIRD's error and a since, and no PeerDown Event is recorded for them.
func (f *fixture) testRetryingPeersNoWrites(t *testing.T) {
	name := f.name("retrying")
	f.settle(t, 0)
	f.obj.applySample(t, name, f.lab.k8sNode(0), period)
	obj := f.obj.waitCollected(t, name, 2*onePeriod, "collected, every dead peer down with BIRD's error", func(o *v3.CalicoNodeStatus) (bool, string) {
		return deadPeersShownDown(o)
	})
	ww := f.obj.watchWrites(t, obj)

	node := f.lab.Nodes[0]
	c := &bird.Collector{V4Socket: node.Socket4, V6Socket: node.Socket6, Timeout: 10 * time.Second}
	last := map[string]string{}
	churn := 0
	noWrites := func() (bool, string) {
		snap := c.Collect(context.Background(), bird.Need{Protocols: true})
		for _, ps := range [][]bird.Protocol{snap.V4.Protocols, snap.V6.Protocols} {
			for _, p := range ps {
				if p.BGP == nil || !deadPeers[p.BGP.Neighbor.String()] {
					continue
				}
				now := p.BGP.State + "|" + p.Since + "|" + p.BGP.LastError
				if prev, ok := last[p.Name]; ok && prev != now {
					churn++
				}
				last[p.Name] = now
			}
		}
		if n := ww.seen() - 1; n > 0 {
			ks, objs := ww.writes(t, 0)
			return false, fmt.Sprintf("%d writes while BIRD retried the dead peers (%v); the first changed:\n%s", n, ks,
				lineDiff(content(obj.Status, false), content(objs[0].Status, false)))
		}
		return true, ""
	}
	if ok, why := holds(5*periodD, noWrites); !ok {
		t.Fatal(why)
	}
	testenv.Eventually(t, time.Minute, "BIRD changing the dead peers at least twice while the agent writes nothing", func() (bool, string) {
		if ok, why := noWrites(); !ok {
			t.Fatal(why)
		}
		return churn >= 2 && len(last) == 2, fmt.Sprintf("%d changes seen on %d dead sessions", churn, len(last))
	})
	final := f.obj.get(t, name)
	if ok, why := deadPeersShownDown(final); !ok {
		t.Errorf("at the end: %s", why)
	}
	if evs := f.obj.events(t, final, "PeerDown"); len(evs) != 0 {
		t.Errorf("%d PeerDown Events for peers that never were Established: %+v", len(evs), evs)
	}
	t.Logf("no write over %d changes BIRD made to the dead sessions", churn)
}

// deadPeersShownDown reports whether o's status lists both dead peers as not Established, with BIRD's
// socket error and a since.
func deadPeersShownDown(o *v3.CalicoNodeStatus) (bool, string) {
	if o.Status.BGP == nil {
		return false, "no bgp section: " + brief(o)
	}
	peers := slices.Concat(o.Status.BGP.PeersV4, o.Status.BGP.PeersV6)
	for ip := range deadPeers {
		i := slices.IndexFunc(peers, func(p v3.CalicoNodePeer) bool { return p.PeerIP == ip })
		if i < 0 {
			return false, "dead peer " + ip + " not listed"
		}
		p := peers[i]
		if p.State == "" || p.State == v3.BGPSessionStateEstablished || !strings.HasPrefix(p.Info, "Socket: ") || p.Since == "" {
			return false, fmt.Sprintf("dead peer %s: state %q, info %q, since %q; want down, BIRD's socket error, a since", ip, p.State, p.Info, p.Since)
		}
	}
	return true, ""
}
