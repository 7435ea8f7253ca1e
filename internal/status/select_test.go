package status

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// selected returns s with each family's routes streamed through a bird.RouteSelection of k routes per
// list, as the Collector does when it selects: the status mapped from it must equal the one mapped from
// every route whenever the status's cap is at most k.
func selected(s bird.Snapshot, k int) bird.Snapshot {
	for _, d := range []*bird.DaemonSnapshot{&s.V4, &s.V6} {
		if d.RoutesErr != nil {
			continue
		}
		sel := bird.NewRouteSelection(k, false)
		for i := range d.Routes {
			sel.Offer(&d.Routes[i])
		}
		d.Routes, d.RouteTotals = sel.Family(d.Family)
	}
	return s
}

// TestRouteSelectionMapsLikeTheFullTable: for tables under and over the cap, with RIB alternatives, ties
// on the selection key (same prefix, protocol and gateway; only the peer or the next hops differ) and any
// reply order, the status from the streamed selection equals the status from every route.
func TestRouteSelectionMapsLikeTheFullTable(t *testing.T) {
	big := bigSnapshot(5000, 7)
	// Ties on bird.CompareRouteKey, broken by collect on learnedFrom and next hops.
	for i := range 300 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i / 50), 0}), 24)
		r := bird.Route{Prefix: p, Primary: i%3 == 0, Protocol: "Mesh_10_0_0_2",
			NextHops: []bird.NextHop{{Gateway: addr("10.0.0.2"), Interface: "eth0"}, {Gateway: addr("10.0.0.3"), Interface: "eth0", Weight: i % 5}},
			From:     netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})}
		if i%4 == 0 {
			r.From = netip.Addr{}
		}
		big.V4.Routes = append(big.V4.Routes, r)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		s    bird.Snapshot
		opts Options
	}{
		{"under the cap", bigSnapshot(300, 5), Options{}},
		{"over the cap", big, Options{}},
		{"cap 1", big, Options{MaxRoutesPerFamily: 1}},
		{"cap 40 in the ties", big, Options{MaxRoutesPerFamily: 40}},
		{"byte cap binds first", big, Options{MaxRoutesPerFamily: 1000, MaxRouteBytesPerFamily: 20_000}},
		{"shuffled", shuffled(big, rnd), Options{MaxRoutesPerFamily: 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := Build(tc.s, allClasses, tc.opts)
			for _, k := range []int{tc.opts.maxRoutes(), tc.opts.maxRoutes() + 7} {
				sel := selected(tc.s, k)
				if n := len(sel.V4.Routes); len(tc.s.V4.Routes) > 2*k+maxTiesForTest && n > 2*k+2*maxTiesForTest {
					t.Fatalf("k=%d: selection kept %d of %d routes", k, n, len(tc.s.V4.Routes))
				}
				got := Build(sel, allClasses, tc.opts)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("k=%d: status from the selection differs from the full table's:\n got totals %d/%d, %d+%d routes, issues %+v\nwant totals %d/%d, %d+%d routes, issues %+v",
						k, got.Routes.TotalV4, got.Routes.TotalV6, len(got.Routes.RoutesV4), len(got.Routes.RoutesV6), got.Routes.Issues,
						want.Routes.TotalV4, want.Routes.TotalV6, len(want.Routes.RoutesV4), len(want.Routes.RoutesV6), want.Routes.Issues)
				}
			}
		})
	}
}

// maxTiesForTest mirrors the selection's bound on ties (bird's maxTies), for the size check above.
const maxTiesForTest = 256

// TestRouteSelectionTotals: the totals and the truncation come from the counts, not from the routes kept.
func TestRouteSelectionTotals(t *testing.T) {
	s := selected(bigSnapshot(3000, 0), v3.DefaultMaxRoutesPerFamily)
	if n := len(s.V4.Routes); n > v3.DefaultMaxRoutesPerFamily+maxTiesForTest {
		t.Fatalf("selection kept %d routes", n)
	}
	r := Build(s, allClasses, Options{}).Routes
	if r.TotalV4 != 3000 || r.TotalV6 != 3000 || !r.Truncated || len(r.RoutesV4) != v3.DefaultMaxRoutesPerFamily {
		t.Fatalf("totals %d/%d, truncated %v, %d routes listed", r.TotalV4, r.TotalV6, r.Truncated, len(r.RoutesV4))
	}
	want := fmt.Sprintf("%d of %d routes listed", v3.DefaultMaxRoutesPerFamily, 3000)
	if len(r.Issues) == 0 || r.Issues[0].Reason != "RoutesTruncated" || r.Issues[0].Message[:len(want)] != want {
		t.Fatalf("issues %+v, want RoutesTruncated %q", r.Issues, want)
	}
}
