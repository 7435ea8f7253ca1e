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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/collect"
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
func retrySections(p retryPeer) collect.Sections {
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
	return collect.Sections{BGP: bgp}
}

// TestRetryingPeerIsNotAChange feeds sequences of collections, as BIRD prints a peer over time, through
// desiredStatus against the status last written (written only when it changed, as the reconciler does) and
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
			{retryPeer{state: stIdle, since: "2026-11-24 10:02:00", info: collect.InfoDisabled}, true, retryPeer{state: stIdle, since: "2026-11-24 10:02:00", info: collect.InfoDisabled}},
			{retryPeer{state: stIdle, since: "2026-11-24 10:02:00", info: collect.InfoDisabled}, false, retryPeer{state: stIdle, since: "2026-11-24 10:02:00", info: collect.InfoDisabled}},
		}},
		{"disabled, then enabled and retrying: a change with BIRD's since", []step{
			{retryPeer{state: stIdle, since: "2026-11-24 10:01:00", info: collect.InfoDisabled}, true, retryPeer{state: stIdle, since: "2026-11-24 10:01:00", info: collect.InfoDisabled}},
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
				next := desiredStatus(obj, sections)
				changed := i == 0 || !sameContent(obj.Status, next)
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
				// desiredStatus must not edit the collection it was given: a write retried after a conflict
				// computes the status again from the same sections.
				if fresh := retrySections(s.peer); !sameContent(v3.CalicoNodeStatusStatus{BGP: sections.BGP}, v3.CalicoNodeStatusStatus{BGP: fresh.BGP}) {
					t.Fatalf("step %d: desiredStatus edited the collected sections", i+1)
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

// oneObjectStore is a Store over one object in memory that counts writes, with the API server's conflict rule.
type oneObjectStore struct {
	mu     sync.Mutex
	obj    *v3.CalicoNodeStatus
	rv     int
	writes int
}

func (s *oneObjectStore) Cached(name string) (*v3.CalicoNodeStatus, error) {
	return s.Fresh(context.Background(), name)
}

func (s *oneObjectStore) Fresh(_ context.Context, name string) (*v3.CalicoNodeStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.obj == nil || s.obj.Name != name {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: v3.GroupVersion.Group, Resource: "caliconodestatuses"}, name)
	}
	return s.obj.DeepCopy(), nil
}

func (s *oneObjectStore) List() []*v3.CalicoNodeStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.obj == nil {
		return nil
	}
	return []*v3.CalicoNodeStatus{s.obj}
}

func (s *oneObjectStore) UpdateStatus(_ context.Context, obj *v3.CalicoNodeStatus) (*v3.CalicoNodeStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if obj.ResourceVersion != s.obj.ResourceVersion {
		return nil, apierrors.NewConflict(schema.GroupResource{Group: v3.GroupVersion.Group, Resource: "caliconodestatuses"}, obj.Name, fmt.Errorf("stale"))
	}
	s.rv++
	s.writes++
	s.obj.Status = *obj.Status.DeepCopy()
	s.obj.ResourceVersion = fmt.Sprint(s.rv)
	return s.obj.DeepCopy(), nil
}

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
	store := &oneObjectStore{obj: &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1, ResourceVersion: "0"},
		Spec: v3.CalicoNodeStatusSpec{Node: "n", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: &p}}}
	src := &scriptedSource{}
	events := &eventLog{}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Store: store, NodeName: "n", Source: src, Events: events, Metrics: m, Now: func() time.Time { return now }}
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
	if store.writes != 2 {
		t.Fatalf("after the first collection and the peer going down: %d writes, want 2", store.writes)
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
	if store.writes != 2 || changed1 != changed0 || unchanged1-unchanged0 != float64(len(cycle)) {
		t.Fatalf("while BIRD retried: %d writes (want 2), status_writes_total{changed} %v -> %v (want unchanged), status_unchanged_total +%v (want +%d)",
			store.writes, changed0, changed1, unchanged1-unchanged0, len(cycle))
	}
	if got := events.reasons(); len(got) != 1 {
		t.Fatalf("events while BIRD retried: %v, want only the one PeerDown", got)
	}
	held := peerOf(store.obj.Status.BGP, "10.99.0.9")
	if held != (retryPeer{state: stActive, since: "2026-11-24 10:00:20", info: refused}) {
		t.Fatalf("status while retrying: %+v, want the state, since and error of when it went down", held)
	}

	step("error changes", birdPeer("Node_10_99_0_9", "10.99.0.9", "start", "Connect", "2026-11-24 10:02:00", noRoute))
	if store.writes != 3 || len(events.reasons()) != 1 {
		t.Fatalf("after the error changed: %d writes (want 3), events %v (want no new one)", store.writes, events.reasons())
	}
	step("back", birdPeer("Node_10_99_0_9", "10.99.0.9", "up", "Established", "2026-11-24 10:03:00", ""))
	if store.writes != 4 || strings.Join(events.reasons(), ",") != EventPeerDown+","+EventPeerEstablished {
		t.Fatalf("after the peer came back: %d writes (want 4), events %v (want PeerDown, PeerEstablished)", store.writes, events.reasons())
	}
	if changed, _ := writes(); changed != 4 {
		t.Fatalf("status_writes_total{changed} = %v, want 4", changed)
	}
}

// Events come from Established transitions only: a peer cycling between states that are not Established
// gives none, whatever its state and since do.
func TestPeerTransitionsIgnoreRetryCycling(t *testing.T) {
	states := []v3.BGPSessionState{stConnect, stActive, stOpenSent, stIdle, stClose, v3.BGPSessionStateOpenConfirm}
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
