package agent

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
)

func nodeObject(node, name string, created time.Time, period int32) *v3.CalicoNodeStatus {
	return &v3.CalicoNodeStatus{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: 1, CreationTimestamp: metav1.NewTime(created)},
		Spec:       v3.CalicoNodeStatusSpec{Node: node, Classes: classesAll(), UpdatePeriodSeconds: &period},
	}
}

func TestServesTheOldestObjects(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	objs := []*v3.CalicoNodeStatus{
		nodeObject("n", "c", t0.Add(2*time.Second), 10), nodeObject("n", "a", t0, 10),
		nodeObject("n", "b2", t0.Add(time.Second), 10), nodeObject("n", "b1", t0.Add(time.Second), 10),
	}
	for _, tc := range []struct {
		name string
		max  int
		want bool
	}{{"a", 2, true}, {"b1", 2, true}, {"b2", 2, false}, {"c", 2, false}, {"c", 4, true}, {"c", 3, false}} {
		var obj *v3.CalicoNodeStatus
		for _, o := range objs {
			if o.Name == tc.name {
				obj = o
			}
		}
		if got, total := serves(objs, obj, tc.max); got != tc.want || total != 4 {
			t.Errorf("serves(%s, max %d) = %v, %d; want %v, 4", tc.name, tc.max, got, total, tc.want)
		}
	}
}

// newUnitReconciler is a Reconciler over an in-memory store holding objs, with a fake clock.
func newUnitReconciler(src SnapshotSource, clock *time.Time, objs ...*v3.CalicoNodeStatus) (*Reconciler, *fakeStore) {
	store := newFakeStore(objs...)
	return NewReconciler(Options{Store: store, NodeName: objs[0].Spec.Node, Source: src, Now: func() time.Time { return *clock }}), store
}

// Finding 5 of the hardening issue: objects are cluster-scoped, nothing bounds how many name one node.
// Beyond the cap an object gets one status saying why, costs no BIRD query, and is looked at again later.
func TestObjectsBeyondTheNodesCapGetOnlyACondition(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	clock := t0
	src := &scriptedSource{snap: nodeSnapshot("10.9.0.3", "Established")}
	var objs []*v3.CalicoNodeStatus
	for i := range 4 {
		objs = append(objs, nodeObject("cap-node", fmt.Sprintf("o%d", i), t0.Add(time.Duration(i)*time.Second), 10))
	}
	r, store := newUnitReconciler(src, &clock, objs...)
	r.MaxObjects = 2
	ctx := context.Background()
	for _, o := range objs {
		after, err := r.Reconcile(ctx, o.Name)
		if err != nil {
			t.Fatalf("reconcile %s: %v", o.Name, err)
		}
		served := o.Name == "o0" || o.Name == "o1"
		st, ok := store.lastStatus(o.UID)
		if !ok {
			t.Fatalf("%s: no status written", o.Name)
		}
		ready := meta.FindStatusCondition(st.Conditions, v3.ConditionReady)
		switch {
		case served && (ready.Reason == v3.ReasonTooManyObjects || st.BGP == nil):
			t.Errorf("%s is among the 2 oldest and must be served; Ready = %+v", o.Name, ready)
		case !served && (ready.Status != metav1.ConditionFalse || ready.Reason != v3.ReasonTooManyObjects || st.BGP != nil || st.Routes != nil):
			t.Errorf("%s is beyond the cap: want only Ready=False TooManyObjects, got Ready %+v, bgp %v", o.Name, ready, st.BGP != nil)
		case !served && after != overCapRecheck:
			t.Errorf("%s beyond the cap is looked at again after %v, want %v", o.Name, after, overCapRecheck)
		}
	}
	if n := src.count(); n != 1 {
		t.Fatalf("BIRD was read %d times for 2 served objects due together, want 1", n)
	}
	// Looked at again with nothing changed: no second write.
	if _, err := r.Reconcile(ctx, "o3"); err != nil {
		t.Fatal(err)
	}
	if n := store.writesOf("uid-o3"); n != 1 {
		t.Fatalf("an object beyond the cap was written %d times with nothing changed, want 1", n)
	}
	// An older object deleted: the next look serves o2.
	_ = store.indexer.Delete(objs[0])
	if _, err := r.Reconcile(ctx, "o2"); err != nil {
		t.Fatal(err)
	}
	if st, _ := store.lastStatus("uid-o2"); st.BGP == nil {
		t.Fatal("o2 is not served after an older object was deleted")
	}
}

// BIRD's route table is never read more often than MinFullTableInterval, however short the period.
func TestFullTableReadsAreSpacedByTheFloorInterval(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	clock := t0
	src := &scriptedSource{snap: nodeSnapshot("10.9.0.4", "Established")}
	obj := nodeObject("floor-node", "fast", t0, 1)
	r, _ := newUnitReconciler(src, &clock, obj)
	r.MinFullTableInterval = 5 * time.Second
	for range 12 {
		if _, err := r.Reconcile(context.Background(), obj.Name); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Second)
	}
	// 12 periods of 1 s (t0 .. t0+11 s); a snapshot up to 5 s old is reused, so reads at t0 and t0+6 s
	// (without the floor: 12).
	if n := src.count(); n != 2 {
		t.Fatalf("route table read %d times in 12 s at period 1 s with a 5 s floor, want 2", n)
	}
}

func TestBuildMemoSharesOneBuildPerSnapshotAndClasses(t *testing.T) {
	var m buildMemo
	snap := nodeSnapshot("10.9.0.5", "Established")
	all := classesAll()
	reordered := []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes, v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP}
	a, firstA := m.sections(1, snap, all, status.Options{})
	b, firstB := m.sections(1, snap, reordered, status.Options{})
	if a.Routes == nil || a.Routes != b.Routes {
		t.Fatal("the same classes of the same snapshot were built twice")
	}
	// The peer metrics follow each snapshot once, from the first build with a BGP section.
	if !firstA || firstB {
		t.Fatalf("peersFirstSeen = %t then %t for one snapshot, want true then false", firstA, firstB)
	}
	if c, firstC := m.sections(2, snap, all, status.Options{}); c.Routes == a.Routes || !firstC {
		t.Fatalf("a new snapshot reused the previous snapshot's build (or its peers were not seen first: %t)", firstC)
	}
	// Per-object copies: adjusting one object's peers must not change another's.
	own := ownSections(b)
	own.BGP.PeersV4[0].Since = "changed"
	if b.BGP.PeersV4[0].Since == "changed" {
		t.Fatal("ownSections shares the peer list with the memo")
	}
	_ = bird.Need{}
}
