package status

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// gatewayNone is the contract's gateway of a route without one.
const gatewayNone = "N/A"

// maxNextHops is the CRD's cap on a route's nextHops (the snapshot keeps no more).
const maxNextHops = bird.MaxNextHops

func buildRoutes(s *bird.Snapshot, opts Options) *v3.CalicoNodeBGPRouteStatus {
	out := &v3.CalicoNodeBGPRouteStatus{}
	fams := families(s)
	for i, d := range fams {
		fam := apiFamily(i)
		other := fams[1-i]
		var routes []v3.CalicoNodeRoute
		total := 0
		switch {
		case notCollected(d.RoutesErr):
		case d.RoutesErr != nil:
			out.Issues = append(out.Issues, errorIssue(fam, bird.CmdRoutes, "", d.RoutesErr))
		default:
			total = d.TotalRoutes()
			var truncated bool
			routes, truncated = mapRoutes(d, other, opts)
			if truncated {
				out.Truncated = true
				out.Issues = append(out.Issues, v3.StatusIssue{
					Family:  fam,
					Reason:  v3.ReasonRoutesTruncated,
					Message: fmt.Sprintf("%d of %d routes listed (%s); FIB routes kept first", len(routes), total, opts.capsText()),
				})
			}
			if d.ProtocolsErr != nil && !notCollected(d.ProtocolsErr) && total > 0 {
				// The routes are there, but their sources can only be inferred from protocol names.
				out.Issues = append(out.Issues, errorIssue(fam, protocolsStep, "route sources inferred from protocol names", d.ProtocolsErr))
			}
		}
		if is, ok := warningsIssue(fam, d.Warnings, warnRoutes); ok {
			out.Issues = append(out.Issues, is)
		}
		if i == 0 {
			out.RoutesV4, out.TotalV4 = routes, total
		} else {
			out.RoutesV6, out.TotalV6 = routes, total
		}
	}
	out.Issues = capIssues(out.Issues)
	return out
}

// sourceResolver finds where routes came from: the protocol by name in the route's own family first,
// then in the other family (a BIRD 2 session to an IPv4 neighbor can carry IPv6 routes; the snapshot
// files it under IPv4). Results are cached per protocol name.
type sourceResolver struct {
	own, other map[string]*bird.Protocol
	cache      map[string]source
	// Routes of one protocol tend to come together: remember the last one.
	lastName string
	last     source
	hasLast  bool
}

// source is what a protocol name resolves to.
type source struct {
	typ      v3.CalicoNodeRouteSourceType
	bgp      bool
	neighbor netip.Addr
}

func indexProtocols(d *bird.DaemonSnapshot) map[string]*bird.Protocol {
	if d.ProtocolsErr != nil || len(d.Protocols) == 0 {
		return nil
	}
	m := make(map[string]*bird.Protocol, len(d.Protocols))
	for i := range d.Protocols {
		p := &d.Protocols[i]
		// Names are unique in BIRD; should a damaged reply repeat one, pick the same protocol whatever
		// the order.
		if q, dup := m[p.Name]; !dup || compareSources(p, q) < 0 {
			m[p.Name] = p
		}
	}
	return m
}

// compareSources orders two protocols by what a route's source takes from them.
func compareSources(a, b *bird.Protocol) int {
	sa, sb := sourceOfProtocol(a), sourceOfProtocol(b)
	return cmp.Or(
		cmp.Compare(sa.typ, sb.typ),
		cmp.Compare(a.Kind, b.Kind),
		sa.neighbor.Compare(sb.neighbor),
	)
}

func (r *sourceResolver) resolve(name string) source {
	if r.hasLast && name == r.lastName {
		return r.last
	}
	s := r.lookup(name)
	r.lastName, r.last, r.hasLast = name, s, true
	return s
}

func (r *sourceResolver) lookup(name string) source {
	if s, ok := r.cache[name]; ok {
		return s
	}
	var s source
	p := r.own[name]
	if p == nil {
		p = r.other[name]
	}
	if p != nil {
		s = sourceOfProtocol(p)
	} else {
		s = sourceOfName(name)
	}
	r.cache[name] = s
	return s
}

// sourceOfProtocol maps a protocol's kind (and, for BGP, Calico's name prefix) to a source type. A kind
// the contract has no word for (Pipe, OSPF, RIP, Babel, ...) leaves the type empty: the route is still
// listed, its source not invented.
func sourceOfProtocol(p *bird.Protocol) source {
	switch {
	case isKind(p, "Kernel"):
		return source{typ: v3.RouteSourceTypeKernel}
	case isKind(p, "Static"):
		return source{typ: v3.RouteSourceTypeStatic}
	case isKind(p, "Direct"), isKind(p, "Device"):
		return source{typ: v3.RouteSourceTypeDirect}
	case isKind(p, "BGP"):
		return source{typ: bgpSourceType(p.Name), bgp: true, neighbor: neighbor(p)}
	}
	return source{}
}

// bgpSourceType: Mesh_* is the node mesh; every other BGP session (Node_*, Global_*, or one Calico did not
// name) is an explicitly configured BGP peer, which is what BGPPeer means.
func bgpSourceType(name string) v3.CalicoNodeRouteSourceType {
	if strings.HasPrefix(name, prefixMesh) {
		return v3.RouteSourceTypeNodeMesh
	}
	return v3.RouteSourceTypeBGPPeer
}

// sourceOfName infers the source from the protocol name alone, as Calico does, for a route whose
// protocol is not in the snapshot (show protocols failed): BIRD's default names kernel1, static1,
// direct1, device1 and Calico's BGP prefixes.
func sourceOfName(name string) source {
	switch {
	case strings.HasPrefix(name, "kernel"):
		return source{typ: v3.RouteSourceTypeKernel}
	case strings.HasPrefix(name, "static"):
		return source{typ: v3.RouteSourceTypeStatic}
	case strings.HasPrefix(name, "direct"), strings.HasPrefix(name, "device"):
		return source{typ: v3.RouteSourceTypeDirect}
	case strings.HasPrefix(name, prefixMesh):
		return source{typ: v3.RouteSourceTypeNodeMesh, bgp: true}
	case strings.HasPrefix(name, prefixNode), strings.HasPrefix(name, prefixGlobal):
		return source{typ: v3.RouteSourceTypeBGPPeer, bgp: true}
	}
	return source{}
}

// learnedFrom is the route's source; for BGP, the peer is the route's "from" when BIRD printed one, else
// the session's neighbor (BIRD omits "from" when it equals the gateway).
func learnedFrom(rt *bird.Route, s source, as addrStrings) v3.CalicoNodeRouteLearnedFrom {
	lf := v3.CalicoNodeRouteLearnedFrom{SourceType: s.typ}
	if s.bgp {
		if rt.From.IsValid() {
			lf.PeerIP = as.get(rt.From)
		} else {
			lf.PeerIP = as.get(s.neighbor)
		}
	}
	return lf
}

// addrStrings shares the string of an address among the routes that mention it (a few peers and
// gateways serve thousands of routes): one allocation per address, not per route. A nil map shares
// nothing.
type addrStrings map[netip.Addr]string

// get is addrString(a), shared.
func (as addrStrings) get(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.WithZone("")
	if s, ok := as[a]; ok {
		return s
	}
	s := a.String()
	if as != nil {
		as[a] = s
	}
	return s
}

// peerAddr is learnedFrom's peer as an address, for sorting without building strings.
func peerAddr(rt *bird.Route, s source) netip.Addr {
	if !s.bgp {
		return netip.Addr{}
	}
	if rt.From.IsValid() {
		return rt.From.WithZone("")
	}
	return s.neighbor.WithZone("")
}

// sortedRoute is a route with what sorting needs resolved once.
type sortedRoute struct {
	rt  *bird.Route
	src source
}

// compareRoutes is the route order: destination address, prefix length, FIB before RIB, protocol name,
// gateway, interface (bird.CompareRouteKey, which a bird.RouteSelection keeps routes by); then every
// other field that shows in the output, so the order is total and equal input in any order yields equal
// output.
func compareRoutes(a, b *sortedRoute) int {
	ra, rb := a.rt, b.rt
	if c := bird.CompareRouteKey(ra, rb); c != 0 {
		return c
	}
	if c := peerAddr(ra, a.src).Compare(peerAddr(rb, b.src)); c != 0 {
		return c
	}
	if c := cmp.Compare(ra.Kind, rb.Kind); c != 0 {
		return c
	}
	return slices.CompareFunc(ra.NextHops, rb.NextHops, func(x, y bird.NextHop) int {
		return cmp.Or(
			x.Gateway.WithZone("").Compare(y.Gateway.WithZone("")),
			cmp.Compare(x.Interface, y.Interface),
			cmp.Compare(x.Weight, y.Weight),
		)
	})
}

func gatewayString(a netip.Addr, as addrStrings) string {
	if !a.IsValid() {
		return gatewayNone
	}
	return as.get(a)
}

// InFIB reports whether a route is in the forwarding table (bird.Route.InFIB).
func InFIB(rt *bird.Route) bool { return rt.InFIB() }

// mapRoute maps one route. A route that drops traffic has no gateway and its kind as interface, whatever
// next hops a parser may have attached.
func mapRoute(rt *bird.Route, s source, as addrStrings) v3.CalicoNodeRoute {
	typ := v3.RouteTypeRIB
	if InFIB(rt) {
		typ = v3.RouteTypeFIB
	}
	out := v3.CalicoNodeRoute{
		Type:        typ,
		Destination: rt.Prefix.String(),
		Gateway:     gatewayNone,
		Interface:   clampShort(rt.OutInterface()),
		LearnedFrom: learnedFrom(rt, s, as),
	}
	if rt.Kind != bird.RouteUnicast {
		return out
	}
	out.Gateway = gatewayString(rt.FirstHop().Gateway, as)
	if len(rt.NextHops) > 1 {
		n := min(len(rt.NextHops), maxNextHops)
		out.NextHops = make([]v3.CalicoNodeRouteNextHop, n)
		for i, h := range rt.NextHops[:n] {
			out.NextHops[i] = v3.CalicoNodeRouteNextHop{
				Gateway:   gatewayString(h.Gateway, as),
				Interface: clampShort(h.Interface),
				Weight:    int32(min(max(h.Weight, 0), math.MaxInt32)),
			}
		}
	}
	return out
}

// mapRoutes maps one family's routes, sorted, capped at opts' count and size. When capping, FIB routes
// are kept first (in route order), then RIB routes; the kept routes are listed in route order. The
// snapshot may hold only a selection of the routes (bird.RouteSelection): it holds every route this can
// keep, and the total counts the others.
func mapRoutes(d, other *bird.DaemonSnapshot, opts Options) ([]v3.CalicoNodeRoute, bool) {
	n := d.TotalRoutes()
	if len(d.Routes) == 0 {
		return nil, n > 0
	}
	res := &sourceResolver{own: indexProtocols(d), other: indexProtocols(other), cache: map[string]source{}}
	maxN, maxBytes := opts.maxRoutes(), opts.maxRouteBytes()

	// Only the first maxN FIB and the first maxN RIB routes in route order can be kept: select them
	// without sorting every route (a node with 100k routes lists 1000).
	fib := smallest{k: maxN, items: make([]sortedRoute, 0, min(maxN, len(d.Routes)))}
	rib := smallest{k: maxN}
	for i := range d.Routes {
		r := sortedRoute{rt: &d.Routes[i], src: res.resolve(d.Routes[i].Protocol)}
		if InFIB(r.rt) {
			fib.offer(r)
		} else {
			rib.offer(r)
		}
	}

	// Keep FIB routes first, then RIB routes, while both caps allow. The list's JSON has brackets, and a
	// comma per route but one: count a comma for every route.
	budget := maxBytes - 2
	as := addrStrings{}
	kept := make([]keptRoute, 0, min(maxN, len(d.Routes)))
	nFIB := 0
	full := false
	for pass, cands := range [][]sortedRoute{fib.sorted(), rib.sorted()} {
		for i := range cands {
			if full || len(kept) >= maxN {
				full = true
				break
			}
			r := mapRoute(cands[i].rt, cands[i].src, as)
			size := routeJSONSize(&r) + 1
			if size > budget {
				full = true
				break
			}
			budget -= size
			kept = append(kept, keptRoute{&cands[i], r})
		}
		if pass == 0 {
			nFIB = len(kept)
		}
	}
	if len(kept) == 0 {
		return nil, true
	}
	// kept is the FIB routes then the RIB routes, each in route order: merge them into route order.
	out := make([]v3.CalicoNodeRoute, 0, len(kept))
	a, b := kept[:nFIB], kept[nFIB:]
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || (len(a) > 0 && compareRoutes(a[0].key, b[0].key) <= 0) {
			out = append(out, a[0].route)
			a = a[1:]
		} else {
			out = append(out, b[0].route)
			b = b[1:]
		}
	}
	return out, len(out) < n
}

type keptRoute struct {
	key   *sortedRoute
	route v3.CalicoNodeRoute
}

// smallest keeps the k smallest routes offered, in route order: a max-heap of k once full, so each
// further route costs one comparison when it is not among them.
type smallest struct {
	k     int
	items []sortedRoute
	heap  bool
}

func (s *smallest) offer(x sortedRoute) {
	if len(s.items) < s.k {
		s.items = append(s.items, x)
		return
	}
	if s.k == 0 {
		return
	}
	if !s.heap {
		for i := len(s.items)/2 - 1; i >= 0; i-- {
			s.down(i)
		}
		s.heap = true
	}
	if compareRoutes(&x, &s.items[0]) >= 0 {
		return
	}
	s.items[0] = x
	s.down(0)
}

func (s *smallest) down(i int) {
	h := s.items
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && compareRoutes(&h[r], &h[l]) > 0 {
			j = r
		}
		if compareRoutes(&h[j], &h[i]) <= 0 {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

func (s *smallest) sorted() []sortedRoute {
	slices.SortFunc(s.items, func(a, b sortedRoute) int { return compareRoutes(&a, &b) })
	return s.items
}
