package bird

import (
	"cmp"
	"slices"
)

// MaxNextHops is how many next hops of a route are kept (the CRD's cap on a route's nextHops): a hostile
// or runaway multipath route cannot grow the snapshot beyond it.
const MaxNextHops = 64

// InFIB reports whether the route is in the forwarding table: the one BIRD selected for its prefix ('*'),
// unless BIRD marks that it failed to export it to the kernel ('!'), in which case nothing forwards by it.
func (r *Route) InFIB() bool { return r.Primary && !r.SyncError }

// FirstHop is the route's first next hop, the zero NextHop when it has none.
func (r *Route) FirstHop() NextHop {
	if len(r.NextHops) == 0 {
		return NextHop{}
	}
	return r.NextHops[0]
}

// OutInterface is the first next hop's interface, or the kind of a route that drops traffic
// ("blackhole", "unreachable", "prohibit").
func (r *Route) OutInterface() string {
	if r.Kind != RouteUnicast {
		return r.Kind.String()
	}
	return r.FirstHop().Interface
}

// CompareRouteKey orders routes the way a status lists them, on what the route itself says: destination
// address, prefix length, FIB before RIB, protocol name, first gateway (without zone), interface. The
// status (package status) breaks ties further on where the route was learned from, which needs the
// protocols; this key is a prefix of its order, which is what lets a RouteSelection pick routes before
// the protocols are known.
func CompareRouteKey(a, b *Route) int {
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()); c != 0 {
		return c
	}
	if fa, fb := a.InFIB(), b.InFIB(); fa != fb {
		if fa {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	if c := a.FirstHop().Gateway.WithZone("").Compare(b.FirstHop().Gateway.WithZone("")); c != 0 {
		return c
	}
	return cmp.Compare(a.OutInterface(), b.OutInterface())
}

// RouteTotals count every route of a family a collection read, whether the snapshot kept it or not.
type RouteTotals struct {
	// Routes is the number of routes; FIB the number of them in the forwarding table (InFIB).
	Routes, FIB int
}

// maxTies bounds the routes a list keeps beyond its k because they tie with its k-th on CompareRouteKey.
// BIRD gives one route per protocol and prefix, so real ties are rare (ADD-PATH, pipes); the bound only
// matters for hostile input, where the selection may then miss a route the status would list after
// its finer tie-break.
const maxTies = 256

// RouteSelection keeps, while a reply is parsed, only the routes a status capped at k routes per family
// can list, and counts all of them: per family, the k first FIB routes and the k first RIB routes in
// CompareRouteKey order, plus those tying with the k-th of each list (the status orders ties on the
// protocols, read separately). Memory is bounded by k, whatever the size of the table: this is what
// lets the agent read a full Internet table within a small container. A status mapped from the
// selection equals the one mapped from every route, as long as its cap is at most k.
type RouteSelection struct {
	k     int
	split bool
	fam   [2]familySelection
}

type familySelection struct {
	totals   RouteTotals
	fib, rib topK
}

// NewRouteSelection keeps k routes per list (k >= 1). split files routes by their prefix's family (a
// BIRD 2 reply holds both); otherwise every route is filed under the daemon's one family (BIRD 1.6).
func NewRouteSelection(k int, split bool) *RouteSelection {
	k = max(k, 1)
	s := &RouteSelection{k: k, split: split}
	for i := range s.fam {
		s.fam[i].fib.k, s.fam[i].rib.k = k, k
	}
	return s
}

func (s *RouteSelection) bucket(f Family) *familySelection {
	if s.split && f == IPv6 {
		return &s.fam[1]
	}
	return &s.fam[0]
}

// Offer counts r and keeps a copy of it if it may be listed. r itself is not retained.
func (s *RouteSelection) Offer(r *Route) {
	b := s.bucket(routeFamily(r))
	b.totals.Routes++
	if r.InFIB() {
		b.totals.FIB++
		b.fib.offer(r)
	} else {
		b.rib.offer(r)
	}
}

// Family returns what was kept of family f (every route offered when the selection does not split),
// in no particular order, and the totals. The result is never nil.
func (s *RouteSelection) Family(f Family) ([]Route, RouteTotals) {
	b := s.bucket(f)
	out := make([]Route, 0, len(b.fib.items)+len(b.fib.ties)+len(b.rib.items)+len(b.rib.ties))
	out = append(out, b.fib.items...)
	out = append(out, b.fib.ties...)
	out = append(out, b.rib.items...)
	out = append(out, b.rib.ties...)
	return out, b.totals
}

// topK keeps the k smallest routes offered by CompareRouteKey, and those equal to the largest of them:
// a max-heap of k once full, so a route that is not among them costs one comparison.
type topK struct {
	k     int
	items []Route
	ties  []Route // each equal (by key) to items[0], only while len(items) == k
}

func (t *topK) offer(r *Route) {
	if len(t.items) < t.k {
		t.items = append(t.items, ownRoute(r))
		if len(t.items) == t.k {
			for i := len(t.items)/2 - 1; i >= 0; i-- {
				t.down(i)
			}
		}
		return
	}
	c := CompareRouteKey(r, &t.items[0])
	switch {
	case c > 0:
		return
	case c == 0:
		if len(t.ties) < maxTies {
			t.ties = append(t.ties, ownRoute(r))
		}
		return
	}
	old := t.items[0]
	t.items[0] = ownRoute(r)
	t.down(0)
	if CompareRouteKey(&old, &t.items[0]) == 0 {
		if len(t.ties) < maxTies {
			t.ties = append(t.ties, old)
		}
		return
	}
	// The largest kept route is now smaller than old and every tie of old: none of them can be listed.
	clear(t.ties)
	t.ties = t.ties[:0]
}

func (t *topK) down(i int) {
	h := t.items
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && CompareRouteKey(&h[r], &h[l]) > 0 {
			j = r
		}
		if CompareRouteKey(&h[j], &h[i]) <= 0 {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// ownRoute copies r with its own next hops: the parser reuses its next-hop buffer for every route.
func ownRoute(r *Route) Route {
	c := *r
	c.NextHops = slices.Clone(r.NextHops)
	return c
}
