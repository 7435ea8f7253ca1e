package bird

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestCollectorSelectsRoutes: with MaxRoutes the collector keeps a bounded selection per family and counts
// every route, for BIRD 1.6 (one family per daemon) and BIRD 2 (one reply split by family), and the
// selection is what a full parse holds at the front of the route order.
func TestCollectorSelectsRoutes(t *testing.T) {
	const n, k = 20_000, 100
	for _, major := range []int{1, 2} {
		reply := genRoutes(major, false, n)
		full, _, err := ParseRoutes(bytes.NewReader(reply), major, 0)
		if err != nil {
			t.Fatal(err)
		}
		greeting := greeting1
		if major == 2 {
			greeting = greeting2
		}
		f := startFakeBird(t, greeting, func(cmd string, c net.Conn) bool {
			_, err := c.Write(reply)
			return err == nil
		})
		c := &Collector{V4Socket: f.path, MaxRoutes: k, Timeout: time.Minute}
		s := c.Collect(context.Background(), Need{Routes: true})
		for _, d := range []*DaemonSnapshot{&s.V4, &s.V6} {
			if major == 1 && d.Family == IPv6 {
				continue // no bird6.ctl here
			}
			if d.RoutesErr != nil {
				t.Fatalf("bird %d %v: %v", major, d.Family, d.RoutesErr)
			}
			var want RouteTotals
			for i := range full {
				if major == 2 && routeFamily(&full[i]) != d.Family {
					continue
				}
				want.Routes++
				if full[i].InFIB() {
					want.FIB++
				}
			}
			if d.RouteTotals != want || d.TotalRoutes() != want.Routes || d.FIBRoutes() != want.FIB {
				t.Errorf("bird %d %v: totals %+v, want %+v", major, d.Family, d.RouteTotals, want)
			}
			if len(d.Routes) < min(want.Routes, k) || len(d.Routes) > 2*(k+maxTies) {
				t.Errorf("bird %d %v: %d routes kept of %d, cap %d per list", major, d.Family, len(d.Routes), want.Routes, k)
			}
			for i := range d.Routes {
				if routeFamily(&d.Routes[i]) != d.Family {
					t.Fatalf("bird %d %v: route %v of the other family", major, d.Family, d.Routes[i].Prefix)
				}
			}
		}
	}
}

// TestRouteSelectionMemoryBounded: what a selection retains does not grow with the table: 200k routes
// cost about what 20k cost (the whole table used to be held, about 300 bytes per route).
func TestRouteSelectionMemoryBounded(t *testing.T) {
	retained := func(n int) uint64 {
		reply := genRoutes(2, false, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		sel := NewRouteSelection(1000, true)
		if _, err := SelectRoutes(bytes.NewReader(reply), 2, int64(len(reply)), sel); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		rs, tot := sel.Family(IPv4)
		if tot.Routes < n/2 || len(rs) > 2*(1000+maxTies) {
			t.Fatalf("%d routes: totals %+v, %d kept", n, tot, len(rs))
		}
		runtime.KeepAlive(sel)
		runtime.KeepAlive(reply)
		return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
	}
	small, large := retained(20_000), retained(200_000)
	t.Logf("retained: %d KiB for 20k routes, %d KiB for 200k", small>>10, large>>10)
	if large > small+small/2+(1<<20) {
		t.Fatalf("retained %d KiB for 200k routes against %d KiB for 20k: memory grows with the table", large>>10, small>>10)
	}
}

// TestSelectingParserAgreesWithFullParse: the selecting parser sees the same routes as the full one
// (counts, FIB, warnings), next hops capped at MaxNextHops in both.
func TestSelectingParserAgreesWithFullParse(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("1007-Table master4:\n 10.0.0.0/8 unicast [s1 10:00:00] * (200)\n")
	for i := range MaxNextHops + 10 {
		b.WriteString(" \tvia 10.9.0." + strconv.Itoa(i%250+1) + " on eth0 weight 1\n")
	}
	b.WriteString(" 10.1.0.0/16 unicast [s1 10:00:00] (200)\n \tdev eth1\n bogus line\n0000 \n")
	full, ws, err := ParseRoutes(bytes.NewReader(b.Bytes()), 2, 0)
	if err != nil || len(full) != 2 || len(ws) != 1 {
		t.Fatalf("full parse: %d routes, %v, %v", len(full), ws, err)
	}
	if len(full[0].NextHops) != MaxNextHops {
		t.Fatalf("%d next hops kept, want %d", len(full[0].NextHops), MaxNextHops)
	}
	sel := NewRouteSelection(10, true)
	ws2, err := SelectRoutes(bytes.NewReader(b.Bytes()), 2, 0, sel)
	rs, tot := sel.Family(IPv4)
	if err != nil || len(ws2) != 1 || tot != (RouteTotals{Routes: 2, FIB: 1}) || len(rs) != 2 {
		t.Fatalf("selecting parse: %d routes, totals %+v, %v, %v", len(rs), tot, ws2, err)
	}
	for _, r := range rs {
		if r.Prefix == full[0].Prefix && len(r.NextHops) != MaxNextHops {
			t.Fatalf("selected route has %d next hops", len(r.NextHops))
		}
	}
}
