package agent

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// TestFlapTracker: the counts and times a series of collections gives, one step per collection.
func TestFlapTracker(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.Local)
	type step struct {
		state v3.BGPSessionState
		since string
		// want after this step
		flaps int32
		last  string // LastEstablished in the annotated status, RFC 3339 UTC; "" for none
	}
	local := func(s string) string {
		tm, err := time.ParseInLocation(time.DateTime, s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC().Format(time.RFC3339)
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"steady: no flap", []step{
			{"Established", "2026-11-30 11:00:00", 0, ""},
			{"Established", "2026-11-30 11:00:00", 0, ""},
			{"Established", "2026-11-30 11:00:01", 0, ""}, // BIRD's one-second jitter is not a flap
		}},
		{"down and up again, seen", []step{
			{"Established", "2026-11-30 11:00:00", 0, ""},
			{"Active", "2026-11-30 11:59:50", 1, local("2026-11-30 11:59:50")},
			{"Connect", "2026-11-30 11:59:55", 1, local("2026-11-30 11:59:50")}, // retrying: no new flap
			{"Established", "2026-11-30 11:59:58", 1, ""},
			{"Idle", "2026-11-30 11:59:59", 2, local("2026-11-30 11:59:59")},
		}},
		{"down and up between two collections: a later since", []step{
			{"Established", "2026-11-30 11:00:00", 0, ""},
			{"Established", "2026-11-30 11:30:00", 1, ""},
			{"Established", "2026-11-30 11:30:00", 1, ""},
		}},
		{"never established: no flap, no time", []step{
			{"Connect", "2026-11-30 11:00:00", 0, ""},
			{"Active", "2026-11-30 11:00:05", 0, ""},
		}},
		{"unreadable since: the collection's time", []step{
			{"Established", "yesterday", 0, ""},
			{"Active", "soon", 1, now.Add(time.Second).UTC().Format(time.RFC3339)},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f flapTracker
			for i, s := range tc.steps {
				at := now.Add(time.Duration(i) * time.Second)
				bgp := &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{{PeerIP: "10.0.0.2", Protocol: "Mesh_10_0_0_2", State: s.state, Since: s.since}}}
				f.observe(uint64(i+1), bgp, at)
				f.observe(uint64(i+1), &v3.CalicoNodeBGPStatus{}, at) // the same snapshot again: ignored
				got := f.annotate(nil, bgp).PeersV4[0]
				last := ""
				if got.LastEstablished != nil {
					last = got.LastEstablished.UTC().Format(time.RFC3339)
				}
				if got.FlapCount != s.flaps || last != s.last {
					t.Fatalf("step %d (%s %s): flaps %d, last established %q; want %d, %q", i, s.state, s.since, got.FlapCount, last, s.flaps, s.last)
				}
				if bgp.PeersV4[0].FlapCount != 0 {
					t.Fatal("annotate modified its input")
				}
			}
		})
	}
}

func TestFlapTrackerForgetsRemovedPeersOnlyFromCompleteLists(t *testing.T) {
	var f flapTracker
	now := time.Now()
	up := v3.CalicoNodePeer{PeerIP: "10.0.0.2", Protocol: "Mesh_10_0_0_2", State: "Established", Since: "2026-11-30 11:00:00"}
	down := up
	down.State, down.Since = "Active", "2026-11-30 11:10:00"
	f.observe(1, &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{up}}, now)
	f.observe(2, &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{down}}, now)
	// A failed read lists nothing: the history stays.
	f.observe(3, &v3.CalicoNodeBGPStatus{Issues: []v3.StatusIssue{{Family: v3.IPFamilyV4, Reason: v3.ReasonDaemonUnreachable}}}, now)
	if got := f.annotate(nil, &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{down}}).PeersV4[0].FlapCount; got != 1 {
		t.Fatalf("after a failed read: flaps %d, want 1", got)
	}
	// A complete list without it: the peer left the configuration; back later, it starts from 0.
	f.observe(4, &v3.CalicoNodeBGPStatus{}, now)
	f.observe(5, &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{up}}, now)
	if got := f.annotate(nil, &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{up}}).PeersV4[0].FlapCount; got != 0 {
		t.Fatalf("a peer removed and added again: flaps %d, want 0", got)
	}
}

// TestReconcilerFlapHistoryWritesOnlyOnChange runs the reconciler over a scripted BIRD: a flap is one
// write carrying the count and time; collections that see nothing new write nothing; a restarted agent
// (a new Reconciler) continues from the status's count and writes nothing.
func TestReconcilerFlapHistoryWritesOnlyOnChange(t *testing.T) {
	clock := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	period := int32(10)
	obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "o", UID: "u1", Generation: 1},
		Spec: v3.CalicoNodeStatusSpec{Node: "n1", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: &period}}
	store := newFakeStore(obj)
	src := &scriptedSource{snap: nodeSnapshot("10.0.0.1", "Established")}
	newReconciler := func() *Reconciler {
		return NewReconciler(Options{Store: store, NodeName: "n1", Source: src, Now: now, Heartbeat: time.Hour, MinFullTableInterval: time.Millisecond})
	}
	r := newReconciler()
	peer := func() v3.CalicoNodePeer {
		t.Helper()
		st, ok := store.lastStatus("u1")
		if !ok || st.BGP == nil || len(st.BGP.PeersV4) != 2 {
			t.Fatalf("no status with two IPv4 peers written: %+v", st)
		}
		return st.BGP.PeersV4[1] // 10.0.0.3, the one the script changes
	}
	reconcile := func(what string) {
		t.Helper()
		clock = clock.Add(time.Duration(period) * time.Second * 2)
		if _, err := r.Reconcile(context.Background(), "o"); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	reconcile("first collection")
	if p := peer(); p.FlapCount != 0 || p.LastEstablished != nil || store.writesOf("u1") != 1 {
		t.Fatalf("first write: %+v (%d writes)", p, store.writesOf("u1"))
	}
	reconcile("nothing changed")
	if n := store.writesOf("u1"); n != 1 {
		t.Fatalf("a collection without change wrote (%d writes)", n)
	}
	src.set(nodeSnapshot("10.0.0.1", "Active"))
	reconcile("10.0.0.3 down")
	if p := peer(); p.FlapCount != 1 || p.LastEstablished == nil || p.State != v3.BGPSessionStateActive || store.writesOf("u1") != 2 {
		t.Fatalf("after the session went down: %+v (%d writes)", p, store.writesOf("u1"))
	}
	reconcile("still down")
	if n := store.writesOf("u1"); n != 2 {
		t.Fatalf("a session still down wrote again (%d writes)", n)
	}
	src.set(nodeSnapshot("10.0.0.1", "Established"))
	reconcile("10.0.0.3 up")
	if p := peer(); p.FlapCount != 1 || p.LastEstablished != nil || store.writesOf("u1") != 3 {
		t.Fatalf("after the session came back: %+v (%d writes)", p, store.writesOf("u1"))
	}
	// Down and up again between two collections: BIRD's since moves on.
	moved := nodeSnapshot("10.0.0.1", "Established")
	moved.V4.Protocols[1].Since = "2026-11-30 12:00:30"
	src.set(moved)
	reconcile("flap between collections")
	if p := peer(); p.FlapCount != 2 || store.writesOf("u1") != 4 {
		t.Fatalf("after a flap between collections: %+v (%d writes)", p, store.writesOf("u1"))
	}

	// A restarted agent: a new reconciler over the same store and BIRD.
	r = newReconciler()
	reconcile("after the restart")
	if p := peer(); p.FlapCount != 2 || store.writesOf("u1") != 4 {
		t.Fatalf("a restarted agent: %+v (%d writes, want still 4: nothing changed)", p, store.writesOf("u1"))
	}
	src.set(nodeSnapshot("10.0.0.1", "Idle"))
	reconcile("down after the restart")
	if p := peer(); p.FlapCount != 3 || p.LastEstablished == nil {
		t.Fatalf("a flap after the restart: %+v, want the count continued to 3", p)
	}
}
