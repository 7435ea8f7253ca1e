package agent

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

type recordedEvent struct{ eventtype, reason, note string }

type eventLog struct {
	mu     sync.Mutex
	events []recordedEvent
}

func (l *eventLog) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, _ string, note string, args ...interface{}) {
	l.mu.Lock()
	l.events = append(l.events, recordedEvent{eventtype, reason, fmt.Sprintf(note, args...)})
	l.mu.Unlock()
}

func (l *eventLog) reasons() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.reason)
	}
	return out
}

// birdPeer is a BGP protocol as BIRD 1.6 prints it in show protocols all.
func birdPeer(name, ip, protoState, bgpState, since, lastErr string) bird.Protocol {
	return bird.Protocol{Name: name, Kind: "BGP", State: protoState, Since: since, Info: bgpState + "  " + lastErr,
		BGP: &bird.BGPSession{State: bgpState, Neighbor: netip.MustParseAddr(ip), NeighborAS: 64512, LastError: lastErr}}
}

// TestReconcileRetryingPeerWritesEventsMetrics runs the real Reconciler over a scripted BIRD whose peer
// goes down and then cycles Connect/Active/OpenSent with a moving since: one write and one PeerDown Event
// when it goes down, then neither writes (status_writes_total stays, status_unchanged_total counts the
// collections) nor Events; one write and one PeerEstablished when it comes back.
func TestReconcileRetryingPeerWritesEventsMetrics(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	p := int32(10)
	store := newFakeStore(&v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1, ResourceVersion: "0"},
		Spec: v3.CalicoNodeStatusSpec{Node: "n", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: &p}})
	src := &scriptedSource{}
	events := &eventLog{}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReconciler(Options{Store: store, NodeName: "n", Source: src, Events: events, Metrics: m, Now: func() time.Time { return now }})
	mesh := birdPeer("Mesh_10_99_0_2", "10.99.0.2", "up", "Established", "2026-11-24 09:00:00", "")
	step := func(what string, peer bird.Protocol) {
		t.Helper()
		src.set(bird.Snapshot{V4: bird.DaemonSnapshot{Family: bird.IPv4, Protocols: []bird.Protocol{mesh, peer}}})
		now = now.Add(time.Duration(p) * time.Second)
		if _, err := r.Reconcile(context.Background(), "x"); err != nil {
			t.Fatalf("%s: reconcile: %v", what, err)
		}
	}
	writes := func() (changed, unchanged float64) {
		return testutil.ToFloat64(m.writes.WithLabelValues("changed")), testutil.ToFloat64(m.unchanged)
	}

	step("established", birdPeer("Node_10_99_0_9", "10.99.0.9", "up", "Established", "2026-11-24 09:00:00", ""))
	step("goes down", birdPeer("Node_10_99_0_9", "10.99.0.9", "start", "Active", "2026-11-24 10:00:20", refused))
	if store.writes() != 2 {
		t.Fatalf("after the first collection and the peer going down: %d writes, want 2", store.writes())
	}
	if got := events.reasons(); strings.Join(got, ",") != EventPeerDown {
		t.Fatalf("events after the peer went down: %v, want one %s", got, EventPeerDown)
	}
	changed0, unchanged0 := writes()
	cycle := []struct{ protoState, state string }{{"start", "Connect"}, {"start", "Active"}, {"start", "OpenSent"}, {"start", "Connect"}, {"start", "Idle"}, {"start", "Active"}}
	for i, c := range cycle {
		step(fmt.Sprintf("cycle %d", i), birdPeer("Node_10_99_0_9", "10.99.0.9", c.protoState, c.state,
			now.Add(-time.Duration(i)*time.Second).Format("2006-01-02 15:04:05"), refused))
	}
	changed1, unchanged1 := writes()
	if store.writes() != 2 || changed1 != changed0 || unchanged1-unchanged0 != float64(len(cycle)) {
		t.Fatalf("while BIRD retried: %d writes (want 2), status_writes_total{changed} %v -> %v (want unchanged), status_unchanged_total +%v (want +%d)",
			store.writes(), changed0, changed1, unchanged1-unchanged0, len(cycle))
	}
	if got := events.reasons(); len(got) != 1 {
		t.Fatalf("events while BIRD retried: %v, want only the one PeerDown", got)
	}
	held := peerNamed(store.get("x").Status.BGP, "Node_10_99_0_9")
	if held == nil || held.State != v3.BGPSessionStateActive || held.Since != "2026-11-24 10:00:20" || held.Info != refused {
		t.Fatalf("status while retrying: %+v, want the state, since and error of when it went down", held)
	}

	step("error changes", birdPeer("Node_10_99_0_9", "10.99.0.9", "start", "Connect", "2026-11-24 10:02:00", noRoute))
	if store.writes() != 3 || len(events.reasons()) != 1 {
		t.Fatalf("after the error changed: %d writes (want 3), events %v (want no new one)", store.writes(), events.reasons())
	}
	step("back", birdPeer("Node_10_99_0_9", "10.99.0.9", "up", "Established", "2026-11-24 10:03:00", ""))
	if store.writes() != 4 || strings.Join(events.reasons(), ",") != EventPeerDown+","+EventPeerEstablished {
		t.Fatalf("after the peer came back: %d writes (want 4), events %v (want PeerDown, PeerEstablished)", store.writes(), events.reasons())
	}
	if changed, _ := writes(); changed != 4 {
		t.Fatalf("status_writes_total{changed} = %v, want 4", changed)
	}
}

// BIRD's last errors of a peer nobody answers.
const (
	refused = "Socket: Connection refused"
	noRoute = "Socket: No route to host"
)

// peerNamed is the IPv4 peer of protocol name in b, nil when absent.
func peerNamed(b *v3.CalicoNodeBGPStatus, name string) *v3.CalicoNodePeer {
	for i := range b.PeersV4 {
		if b.PeersV4[i].Protocol == name {
			return &b.PeersV4[i]
		}
	}
	return nil
}
