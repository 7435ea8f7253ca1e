package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/api/meta"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestAPIServer_RefusedStatusFallsBackToCounts: an agent whose caps exceed the CRD's bounds (2100 peers
// per family against maxItems 2000) has its full status refused by the real API server (422); it writes
// the counts without the lists and a CountsOnly condition, then sends nothing more while BIRD does not
// change, instead of retrying the refused status forever.
func TestAPIServer_RefusedStatusFallsBackToCounts(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	src := &scriptedSource{snap: manyPeers(v3.MaxPeersPerFamily+100, "09:00:00")}
	m := startAgent(t, env, "fb-node-1", src, agentSetup{collect: status.Options{MaxPeersPerFamily: -1, MaxStatusBytes: -1}}).metrics
	o := createObject(t, c, "fb-cns", "fb-node-1", 1, classesAll())

	var got *v3.CalicoNodeStatus
	testenv.Eventually(t, 30*time.Second, "a counts-only status", func() bool {
		got = get(t, c, o.Name)
		return meta.IsStatusConditionTrue(got.Status.Conditions, v3.ConditionCountsOnly)
	})
	cond := meta.FindStatusCondition(got.Status.Conditions, v3.ConditionCountsOnly)
	if cond.Reason != v3.ReasonStatusRefused || !strings.Contains(cond.Message, "peersV4") {
		t.Errorf("CountsOnly condition %+v: want the API server's refusal quoted", cond)
	}
	b := got.Status.BGP
	if len(b.PeersV4) != 0 || b.NumberEstablishedV4 != v3.MaxPeersPerFamily+101 || b.NumberNotEstablishedV4 != 1 || !b.PeersTruncated ||
		got.Status.Routes.TotalV4 != 4 || !collectedFor(got) {
		t.Fatalf("counts-only status: bgp %+v, routes %+v", b, got.Status.Routes)
	}
	if n := testutil.ToFloat64(m.writes.WithLabelValues("error")); n != 1 {
		t.Errorf("status_writes_total{reason=error} = %v, want 1 (the refused full status)", n)
	}

	// BIRD unchanged for several periods: no write, no new attempt.
	writes := watchWrites(t, env, got)
	base := src.count()
	testenv.Eventually(t, 30*time.Second, "three more collections", func() bool { return src.count() >= base+3 })
	if n := writes(); n != 0 {
		t.Errorf("%d writes while nothing changed", n)
	}
	if n := testutil.ToFloat64(m.writes.WithLabelValues("error")); n != 1 {
		t.Errorf("status_writes_total{reason=error} = %v after unchanged periods: the refused status was retried", n)
	}
}

// TestAPIServer_TooLargeStatusFallsBackToCounts: a status within the CRD's bounds but larger than etcd
// accepts (no byte budget: 2 x 700 sessions with 1 KiB infos, about 1.9 MB) is refused for its size; the
// agent falls back to the counts.
func TestAPIServer_TooLargeStatusFallsBackToCounts(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	snap := manyPeers(700, "09:00:00")
	for i := range snap.V4.Protocols {
		if p := &snap.V4.Protocols[i]; p.BGP != nil {
			p.State, p.Info, p.BGP.State, p.BGP.LastError = "start", "Active", "Active", "Socket: "+strings.Repeat("r", 1000)
		}
	}
	snap.V6.Protocols = snap.V4.Protocols // the same sessions listed under IPv6 too: twice the size
	src := &scriptedSource{snap: snap}
	m := startAgent(t, env, "fb-node-2", src, agentSetup{collect: status.Options{MaxPeersPerFamily: -1, MaxStatusBytes: -1}}).metrics
	o := createObject(t, c, "fb-cns-large", "fb-node-2", 1, classesAll())
	var got *v3.CalicoNodeStatus
	testenv.Eventually(t, 30*time.Second, "a counts-only status", func() bool {
		got = get(t, c, o.Name)
		return meta.IsStatusConditionTrue(got.Status.Conditions, v3.ConditionCountsOnly)
	})
	if cond := meta.FindStatusCondition(got.Status.Conditions, v3.ConditionCountsOnly); !strings.Contains(cond.Message, "too large") {
		t.Errorf("CountsOnly condition %+v: want the size refusal quoted", cond)
	}
	if b := got.Status.BGP; len(b.PeersV4) != 0 || b.NumberNotEstablishedV4 != 702 {
		t.Fatalf("counts-only status: bgp %+v", b)
	}
	if n := testutil.ToFloat64(m.writes.WithLabelValues("error")); n != 1 {
		t.Errorf("status_writes_total{reason=error} = %v, want 1", n)
	}
}
