package agent

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// A BIRD 2 daemon whose names and texts carry invalid UTF-8, ESC sequences and BEL.
const (
	hostileStatusReply = "1000-BIRD 2.0.12\xff\x1b[31m\n1011-Router ID is 10.0.0.1\n Last reboot on 2026-11-24 10:31:41\x07\n0013 Daemon is up and running\n"
	hostileProtoReply  = "1002-Mesh_\xfe\x1b[2J BGP ---  start  10:31:44.123  Active Socket: \xc3\x1b]0;x\x07refused\n" +
		"1006-  BGP state:          Active\n    Neighbor address: fe80::1%eth0\xff\n    Neighbor AS:      64512\n" +
		"    Last error:       Socket: \xc3\x1b]0;x\x07refused\n    Channel ipv6\n0000 \n"
	hostileRouteReply = "1007-Table master6:\n fd00:1::/64 unicast [Mesh_\xfe\x1b[2J 10:31:44.123] * (100) [i]\n \tvia fe80::1 on eth0\xff\x07\n0000 \n"
)

func hostileSnapshot(t *testing.T) bird.Snapshot {
	t.Helper()
	st, _, err := bird.ParseStatus(strings.NewReader(hostileStatusReply), 0)
	if err != nil {
		t.Fatal(err)
	}
	ps, _, err := bird.ParseProtocols(strings.NewReader(hostileProtoReply), 2, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rs, _, err := bird.ParseRoutes(strings.NewReader(hostileRouteReply), 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	return bird.Snapshot{
		V4: bird.DaemonSnapshot{Family: bird.IPv4, Status: st},
		V6: bird.DaemonSnapshot{Family: bird.IPv6, Status: st, Protocols: ps, Routes: rs},
	}
}

// TestHostileReplyWritesOnce: a status built from a hostile reply survives the API server's JSON round
// trip unchanged (the API server stores invalid UTF-8 as U+FFFD), so the next period finds nothing
// changed and does not write again: no write loop.
func TestHostileReplyWritesOnce(t *testing.T) {
	store := newFakeStore(cnsObject("cns", "node1"))
	store.onWrite = func(obj *v3.CalicoNodeStatus) error {
		// What the API server stores and returns: the object through encoding/json.
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		var back v3.CalicoNodeStatus
		if err := json.Unmarshal(b, &back); err != nil {
			return err
		}
		*obj = back
		return nil
	}
	snap := hostileSnapshot(t)
	collections := 0
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := NewReconciler(Options{Store: store, NodeName: "node1", Metrics: freshMetrics(t), Now: func() time.Time { return now },
		Source: snapshotFunc(func(context.Context, bird.Need) bird.Snapshot { collections++; return snap })})
	ctx := context.Background()
	if _, err := r.Reconcile(ctx, "cns"); err != nil {
		t.Fatal(err)
	}
	st := store.get("cns").Status
	if len(st.BGP.PeersV6) != 1 || !strings.Contains(st.BGP.PeersV6[0].Protocol, `\x1b[2J`) || st.Agent.BIRDV4.Version != "2.0.12\uFFFD\\x1b[31m" {
		t.Fatalf("status %+v %+v: want the hostile names kept, escaped", st.BGP, st.Agent.BIRDV4)
	}
	// Next periods, same reply: built again from scratch, it must equal what the API server stored.
	for range 3 {
		now = now.Add(20 * time.Second)
		if _, err := r.Reconcile(ctx, "cns"); err != nil {
			t.Fatal(err)
		}
	}
	if collections != 4 || store.writes() != 1 {
		t.Fatalf("%d writes in %d collections of an unchanged hostile reply, want 1 write in 4", store.writes(), collections)
	}
}
