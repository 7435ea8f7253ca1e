package agent

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// stateSet is the bgp_session_state lines of one session in state (the exposition's label order).
func stateSet(family, peer, protocol, state string) string {
	var b strings.Builder
	for _, s := range sessionStates {
		v := 0
		if s == state {
			v = 1
		}
		fmt.Fprintf(&b, "calico_node_status_bgp_session_state{family=%q,node=\"n1\",peer=%q,protocol=%q,state=%q,type=\"NodeMesh\"} %d\n", family, peer, protocol, s, v)
	}
	return b.String()
}

// newLoop returns a loop over src whose reconciler's clock reads *clock.
func newLoop(t *testing.T, src SnapshotSource, clock *time.Time) (*MetricsLoop, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewSessionMetrics(reg, "n1")
	if err != nil {
		t.Fatal(err)
	}
	r := NewReconciler(Options{Store: newFakeStore(), NodeName: "n1", Source: src, Now: func() time.Time { return *clock }})
	return &MetricsLoop{Reconciler: r, Metrics: m, Interval: 30 * time.Second}, reg
}

// TestSessionMetricsWithoutAnyObject: the loop's reading, with no CalicoNodeStatus anywhere, gives every
// session's up gauge, state set and prefixes, the mesh counts and the daemons; a peer that goes away takes
// its series with it; a family without a daemon has none.
func TestSessionMetricsWithoutAnyObject(t *testing.T) {
	src := &scriptedSource{snap: nodeSnapshot("10.0.0.1", "Active")}
	src.snap.V4.Protocols[0].Routes = bird.RouteCounts{Imported: 3, Exported: 7}
	src.snap.V6 = bird.DaemonSnapshot{Family: bird.IPv6, StatusErr: fmt.Errorf("dial: %w", syscall.ENOENT), ProtocolsErr: fmt.Errorf("dial: %w", syscall.ENOENT)}
	clock := time.Now()
	loop, reg := newLoop(t, src, &clock)
	loop.Once(context.Background())

	want := `
# HELP calico_node_status_bgp_session_up 1 when the BGP session is Established, 0 otherwise (the agent's own reading, every --metrics-interval).
# TYPE calico_node_status_bgp_session_up gauge
calico_node_status_bgp_session_up{family="IPv4",node="n1",peer="10.0.0.2",protocol="Mesh_10_0_0_2",type="NodeMesh"} 1
calico_node_status_bgp_session_up{family="IPv4",node="n1",peer="10.0.0.3",protocol="Mesh_10_0_0_3",type="NodeMesh"} 0
# HELP calico_node_status_bgp_session_prefixes_imported Routes imported from the peer (BIRD's route counters).
# TYPE calico_node_status_bgp_session_prefixes_imported gauge
calico_node_status_bgp_session_prefixes_imported{family="IPv4",node="n1",peer="10.0.0.2",protocol="Mesh_10_0_0_2",type="NodeMesh"} 3
calico_node_status_bgp_session_prefixes_imported{family="IPv4",node="n1",peer="10.0.0.3",protocol="Mesh_10_0_0_3",type="NodeMesh"} 0
# HELP calico_node_status_bgp_session_prefixes_exported Routes exported to the peer (BIRD's route counters).
# TYPE calico_node_status_bgp_session_prefixes_exported gauge
calico_node_status_bgp_session_prefixes_exported{family="IPv4",node="n1",peer="10.0.0.2",protocol="Mesh_10_0_0_2",type="NodeMesh"} 7
calico_node_status_bgp_session_prefixes_exported{family="IPv4",node="n1",peer="10.0.0.3",protocol="Mesh_10_0_0_3",type="NodeMesh"} 0
# HELP calico_node_status_bgp_mesh_peers Node-to-node mesh (NodeMesh) sessions configured in BIRD, per family; every node of a full mesh has as many as the node with most.
# TYPE calico_node_status_bgp_mesh_peers gauge
calico_node_status_bgp_mesh_peers{family="IPv4",node="n1"} 2
# HELP calico_node_status_bgp_mesh_peers_established Node-to-node mesh sessions that are Established, per family.
# TYPE calico_node_status_bgp_mesh_peers_established gauge
calico_node_status_bgp_mesh_peers_established{family="IPv4",node="n1"} 1
# HELP calico_node_status_bgp_daemon_up 1 when the family's BIRD daemon answered and said it is up and running, 0 when it did not.
# TYPE calico_node_status_bgp_daemon_up gauge
calico_node_status_bgp_daemon_up{family="IPv4",node="n1"} 1
# HELP calico_node_status_session_collection_ok 1 when the agent's last reading of BIRD for the session metrics had no error.
# TYPE calico_node_status_session_collection_ok gauge
calico_node_status_session_collection_ok{node="n1"} 1
# HELP calico_node_status_bgp_session_state State set of each BGP session: 1 for the state it is in, 0 for the others.
# TYPE calico_node_status_bgp_session_state gauge
` + stateSet("IPv4", "10.0.0.2", "Mesh_10_0_0_2", "Established") + stateSet("IPv4", "10.0.0.3", "Mesh_10_0_0_3", "Active")
	names := []string{"calico_node_status_bgp_session_up", "calico_node_status_bgp_session_prefixes_imported", "calico_node_status_bgp_session_prefixes_exported",
		"calico_node_status_bgp_mesh_peers", "calico_node_status_bgp_mesh_peers_established", "calico_node_status_bgp_daemon_up",
		"calico_node_status_session_collection_ok", "calico_node_status_bgp_session_state"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(loop.Metrics, "calico_node_status_session_collection_errors_total"); n != 0 {
		t.Errorf("an absent bird6 counted %d collection errors; a node without IPv6 has none", n)
	}

	// 10.0.0.3 leaves BIRD's configuration: its series go; 10.0.0.2 went down and counts a flap.
	next := nodeSnapshot("10.0.0.1", "Active")
	next.V4.Protocols = append(next.V4.Protocols[:1], next.V4.Protocols[2:]...)
	next.V4.Protocols[0].BGP.State, next.V4.Protocols[0].State, next.V4.Protocols[0].Info = "Active", "start", "Active Socket: Connection refused"
	next.V6 = src.snap.V6
	src.set(next)
	clock = clock.Add(time.Minute) // past the shared snapshot's age
	loop.Once(context.Background())
	want = `
# HELP calico_node_status_bgp_session_up 1 when the BGP session is Established, 0 otherwise (the agent's own reading, every --metrics-interval).
# TYPE calico_node_status_bgp_session_up gauge
calico_node_status_bgp_session_up{family="IPv4",node="n1",peer="10.0.0.2",protocol="Mesh_10_0_0_2",type="NodeMesh"} 0
# HELP calico_node_status_bgp_session_flaps Times the session left Established as the agent saw it since it started (see the status's flapCount).
# TYPE calico_node_status_bgp_session_flaps gauge
calico_node_status_bgp_session_flaps{family="IPv4",node="n1",peer="10.0.0.2",protocol="Mesh_10_0_0_2",type="NodeMesh"} 1
# HELP calico_node_status_bgp_mesh_peers_established Node-to-node mesh sessions that are Established, per family.
# TYPE calico_node_status_bgp_mesh_peers_established gauge
calico_node_status_bgp_mesh_peers_established{family="IPv4",node="n1"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "calico_node_status_bgp_session_up", "calico_node_status_bgp_session_flaps",
		"calico_node_status_bgp_mesh_peers_established"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(loop.Metrics, "calico_node_status_bgp_session_state"); n != len(sessionStates) {
		t.Errorf("%d state series, want one state set (%d) for the one session left", n, len(sessionStates))
	}

	// BIRD dies: the daemon that answered before reports 0, the reading is not ok, the error is counted.
	dead := bird.Snapshot{V4: bird.DaemonSnapshot{Family: bird.IPv4, Socket: "bird.ctl", StatusErr: fmt.Errorf("dial: %w", syscall.ECONNREFUSED),
		ProtocolsErr: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}, V6: next.V6}
	src.set(dead)
	clock = clock.Add(time.Minute)
	loop.Once(context.Background())
	want = `
# HELP calico_node_status_bgp_daemon_up 1 when the family's BIRD daemon answered and said it is up and running, 0 when it did not.
# TYPE calico_node_status_bgp_daemon_up gauge
calico_node_status_bgp_daemon_up{family="IPv4",node="n1"} 0
# HELP calico_node_status_session_collection_ok 1 when the agent's last reading of BIRD for the session metrics had no error.
# TYPE calico_node_status_session_collection_ok gauge
calico_node_status_session_collection_ok{node="n1"} 0
# HELP calico_node_status_session_collection_errors_total Sections of the session metrics' readings of BIRD that failed, per family, section and reason.
# TYPE calico_node_status_session_collection_errors_total counter
calico_node_status_session_collection_errors_total{family="IPv4",node="n1",reason="DaemonUnreachable",section="protocols"} 1
calico_node_status_session_collection_errors_total{family="IPv4",node="n1",reason="DaemonUnreachable",section="status"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "calico_node_status_bgp_daemon_up", "calico_node_status_session_collection_ok",
		"calico_node_status_session_collection_errors_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(loop.Metrics, "calico_node_status_bgp_session_up"); n != 0 {
		t.Errorf("%d session series while BIRD is unreachable, want none (nothing known)", n)
	}
}

// TestMetricsLoopSharesReadsWithStatusCollections: a status collection that just read BIRD serves the
// loop, and the loop's reading serves a status collection due right after.
func TestMetricsLoopSharesReadsWithStatusCollections(t *testing.T) {
	src := &scriptedSource{snap: nodeSnapshot("10.0.0.1", "Established")}
	clock := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	loop, _ := newLoop(t, src, &clock)
	r := loop.Reconciler
	ctx := context.Background()
	r.snapshots.get(ctx, bird.Need{Status: true, Protocols: true, Routes: true}, time.Second) // a status collection
	loop.Once(ctx)
	if n := src.count(); n != 1 {
		t.Fatalf("the loop read BIRD again right after a status collection: %d reads, want 1", n)
	}
	clock = clock.Add(loop.Interval)
	loop.Once(ctx)
	if n := src.count(); n != 2 {
		t.Fatalf("a reading older than half the interval was reused: %d reads, want 2", n)
	}
	if _, _, _, fresh := r.snapshots.get(ctx, bird.Need{Protocols: true}, snapshotMaxAge(10*time.Second)); fresh || src.count() != 2 {
		t.Fatalf("a status collection right after the loop's reading read BIRD again (%d reads)", src.count())
	}
}
