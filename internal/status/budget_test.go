package status

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

func TestPeerJSONSize(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"", "Mesh_10_0_0_2", "fe80::1", "Socket: <refused> & \"x\"", "é\u2028\x01"}
	w := func() string { return words[r.IntN(len(words))] }
	for range 500 {
		p := v3.CalicoNodePeer{PeerIP: w(), Type: v3.BGPPeerType(w()), State: v3.BGPSessionState(w()), Since: w(), Protocol: w(),
			Info: w(), Zone: w(), NeighborAS: r.Int64N(5) - 1, HoldTimeSeconds: r.Int32N(3), RoutesImported: r.Int64N(1 << 40), RoutesExported: r.Int64N(2)}
		b, _ := json.Marshal(p)
		if got := peerJSONSize(&p); got != len(b) {
			t.Fatalf("peerJSONSize = %d, json.Marshal gives %d bytes: %s", got, len(b), b)
		}
	}
}

// budgetSnapshot is a route reflector's node: n sessions per family, half of them not established with
// 1 KiB infos, and routes routes per family.
func budgetSnapshot(n, routes int) bird.Snapshot {
	s := bigSnapshot(routes, 0)
	for fi, d := range []*bird.DaemonSnapshot{&s.V4, &s.V6} {
		for i := range n {
			a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
			if fi == 1 {
				a = netip.AddrFrom16([16]byte{0: 0xfd, 1: 1, 14: byte(i >> 8), 15: byte(i)})
			}
			state, info, bgpState, lastErr := "up", "Established", "Established", ""
			if i%2 == 0 {
				state, info, bgpState, lastErr = "start", "Active", "Active", "Socket: "+strings.Repeat("x", 1000)
			}
			d.Protocols = append(d.Protocols, bgpProto(fmt.Sprintf("Node_%d_%d", fi, i), state, info, bgpState, a.String(), lastErr, 1, 1))
		}
	}
	return s
}

// TestStatusBudget: with every list at its own cap, the status as a whole stays within the byte budget:
// peers are kept before routes, sessions not established before established ones, and what was cut says
// so (truncated, an issue naming the budget) while the counts stay complete.
func TestStatusBudget(t *testing.T) {
	s := budgetSnapshot(1000, 3000)
	for _, budget := range []int{v3.DefaultMaxStatusBytes, 600 << 10, 200 << 10} {
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			opts := Options{MaxPeersPerFamily: 2000, MaxStatusBytes: budget}
			out := Build(s, allClasses, opts)
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > budget {
				t.Fatalf("status of %d bytes over a budget of %d", len(b), budget)
			}
			// The agent adds the flap history after the build; the budget kept room for it at its largest.
			last := metav1.NewTime(time.Date(2026, 11, 30, 16, 57, 13, 0, time.UTC))
			for _, ps := range [][]v3.CalicoNodePeer{out.BGP.PeersV4, out.BGP.PeersV6} {
				for i := range ps {
					ps[i].FlapCount, ps[i].LastEstablished = math.MaxInt32, &last
				}
			}
			if b, _ = json.Marshal(out); len(b) > budget {
				t.Fatalf("status of %d bytes with the flap history over a budget of %d", len(b), budget)
			}
			bgp, rs := out.BGP, out.Routes
			total := len(bgp.PeersV4) + len(bgp.PeersV6)
			if !bgp.PeersTruncated || total == 0 || bgp.NumberEstablishedV4+bgp.NumberNotEstablishedV4 != 1000+16 {
				t.Fatalf("peers: truncated %v, %d listed, counts %d+%d", bgp.PeersTruncated, total, bgp.NumberEstablishedV4, bgp.NumberNotEstablishedV4)
			}
			// The sessions not established are kept first.
			notEst := 0
			for _, p := range bgp.PeersV4 {
				if p.State != v3.BGPSessionStateEstablished {
					notEst++
				}
			}
			if notEst != min(500, len(bgp.PeersV4)) {
				t.Errorf("%d of %d listed IPv4 peers not established, want every one of the 500 first", notEst, len(bgp.PeersV4))
			}
			if len(rs.RoutesV4) != 0 || !rs.Truncated || rs.TotalV4 != 3000 {
				t.Errorf("routes: %d listed, truncated %v, total %d: peers come first, the routes get what is left", len(rs.RoutesV4), rs.Truncated, rs.TotalV4)
			}
			for _, is := range [][]v3.StatusIssue{bgp.Issues, rs.Issues} {
				found := false
				for _, i := range is {
					found = found || strings.Contains(i.Message, fmt.Sprintf("status budget of %d bytes", budget))
				}
				if !found {
					t.Errorf("no issue names the budget: %+v", is)
				}
			}
		})
	}
	// Within the budget nothing changes: the default caps alone.
	small := bigSnapshot(500, 3)
	if a, b := Build(small, allClasses, Options{}), Build(small, allClasses, Options{MaxStatusBytes: -1}); !jsonEqual(a, b) {
		t.Fatal("a status within the budget was changed by it")
	}
	// Routes share what peers leave, the two families alike.
	out := Build(bigSnapshot(4000, 0), allClasses, Options{MaxStatusBytes: 300 << 10})
	if b, _ := json.Marshal(out); len(b) > 300<<10 || len(out.Routes.RoutesV4) == 0 || len(out.Routes.RoutesV6) == 0 || !out.Routes.Truncated {
		t.Fatalf("%d bytes, %d+%d routes listed", len(b), len(out.Routes.RoutesV4), len(out.Routes.RoutesV6))
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
