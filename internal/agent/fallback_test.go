package agent

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// manyPeers is nodeSnapshot with n more established IPv4 sessions (whose info changes with gen).
func manyPeers(n int, gen string) bird.Snapshot {
	s := nodeSnapshot("10.0.0.1", "Active")
	for i := range n {
		a := netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)})
		s.V4.Protocols = append(s.V4.Protocols, bird.Protocol{Name: fmt.Sprintf("Node_%d", i), Kind: "BGP", State: "up", Info: "Established", Since: gen,
			BGP: &bird.BGPSession{State: "Established", Neighbor: a, NeighborAS: 64513}})
	}
	return s
}

// TestCountsOnlyFallback: a status the API server refuses as invalid (here: more peers than a schema
// allows) is written as counts only with a CountsOnly condition, once; the same status is not sent again
// every period; a changed one is tried in full again after fallbackRetry, and a status that fits clears
// the condition.
func TestCountsOnlyFallback(t *testing.T) {
	const limit = 50 // the store's stand-in for the CRD's maxItems
	store := newFakeStore(cnsObject("cns", "node1"))
	attempts := 0
	store.onWrite = func(obj *v3.CalicoNodeStatus) error {
		attempts++
		if b := obj.Status.BGP; b != nil && len(b.PeersV4) > limit {
			return apierrors.NewInvalid(schema.GroupKind{Group: v3.GroupVersion.Group, Kind: "CalicoNodeStatus"}, obj.Name,
				field.ErrorList{field.TooMany(field.NewPath("status", "bgp", "peersV4"), len(b.PeersV4), limit)})
		}
		return nil
	}
	snap := manyPeers(100, "09:00:00")
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := NewReconciler(Options{Store: store, NodeName: "node1", Metrics: freshMetrics(t), Now: func() time.Time { return now },
		Source: snapshotFunc(func(context.Context, bird.Need) bird.Snapshot { return snap })})
	ctx := context.Background()
	period := func() {
		t.Helper()
		now = now.Add(20 * time.Second)
		if _, err := r.Reconcile(ctx, "cns"); err != nil {
			t.Fatalf("reconcile: %v", err)
		}
	}
	if _, err := r.Reconcile(ctx, "cns"); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	st := store.get("cns").Status
	c := meta.FindStatusCondition(st.Conditions, v3.ConditionCountsOnly)
	if c == nil || c.Status != "True" || !strings.Contains(c.Message, "peersV4") {
		t.Fatalf("CountsOnly condition %+v, want True with the API server's reason", c)
	}
	if len(st.BGP.PeersV4) != 0 || st.BGP.NumberEstablishedV4 != 101 || st.BGP.NumberNotEstablishedV4 != 1 || !st.BGP.PeersTruncated ||
		len(st.Routes.RoutesV4) != 0 || st.Routes.TotalV4 != 4 || !st.Routes.Truncated || st.Agent.BIRDV4 == nil {
		t.Fatalf("counts-only status: bgp %+v routes %+v", st.BGP, st.Routes)
	}
	if attempts != 2 || store.writes() != 1 {
		t.Fatalf("%d attempts, %d writes: want the full status refused once, then the counts written", attempts, store.writes())
	}

	// Unchanged BIRD: nothing sent, full or not.
	for range 3 {
		period()
	}
	if attempts != 2 {
		t.Fatalf("%d attempts after 3 unchanged periods: the refused status was retried", attempts)
	}
	// Changed BIRD within fallbackRetry: the counts are written, no full attempt.
	snap = manyPeers(101, "09:00:01")
	period()
	if attempts != 3 || store.writes() != 2 || store.get("cns").Status.BGP.NumberEstablishedV4 != 102 {
		t.Fatalf("%d attempts, %d writes after a change: want the new counts written directly", attempts, store.writes())
	}
	// After fallbackRetry, a changed status that fits is written in full and the condition goes.
	now = now.Add(fallbackRetry)
	snap = manyPeers(10, "09:00:02")
	period()
	st = store.get("cns").Status
	if meta.FindStatusCondition(st.Conditions, v3.ConditionCountsOnly) != nil || len(st.BGP.PeersV4) != 12 {
		t.Fatalf("after recovery: conditions %+v, %d peers", st.Conditions, len(st.BGP.PeersV4))
	}
}

func TestRefusedForContent(t *testing.T) {
	gr := schema.GroupResource{Group: v3.GroupVersion.Group, Resource: resource}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewRequestEntityTooLargeError("limit is 3145728"), true},
		{apierrors.NewInvalid(schema.GroupKind{Kind: "CalicoNodeStatus"}, "x", nil), true},
		{apierrors.NewInternalError(fmt.Errorf("etcdserver: request is too large")), true},
		{apierrors.NewConflict(gr, "x", fmt.Errorf("changed")), false},
		{apierrors.NewServiceUnavailable("down"), false},
		{nil, false},
	} {
		if got := refusedForContent(c.err); got != c.want {
			t.Errorf("refusedForContent(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
