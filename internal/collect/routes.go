package collect

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

// maxNextHops is the CRD's cap on a route's nextHops.
const maxNextHops = 64

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
			out.Issues = append(out.Issues, errorIssue(fam, "show route", "", d.RoutesErr))
		default:
			total = len(d.Routes)
			var truncated bool
			routes, truncated = mapRoutes(d, other, opts)
			if truncated {
				out.Truncated = true
				out.Issues = append(out.Issues, v3.StatusIssue{
					Family: fam,
					Reason: v3.ReasonRoutesTruncated,
					Message: fmt.Sprintf("%d of %d routes listed (cap %d routes, %d bytes per family); FIB routes kept first",
						len(routes), total, opts.maxRoutes(), opts.maxRouteBytes()),
				})
			}
			if d.ProtocolsErr != nil && !notCollected(d.ProtocolsErr) && total > 0 {
				// The routes are there, but their sources can only be inferred from protocol names.
				out.Issues = append(out.Issues, errorIssue(fam, "show protocols", "route sources inferred from protocol names", d.ProtocolsErr))
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
		if _, dup := m[p.Name]; !dup { // first wins: names are unique in BIRD; be deterministic anyway
			m[p.Name] = p
		}
	}
	return m
}

func (r *sourceResolver) resolve(name string) source {
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
func learnedFrom(rt *bird.Route, s source) v3.CalicoNodeRouteLearnedFrom {
	lf := v3.CalicoNodeRouteLearnedFrom{SourceType: s.typ}
	if s.bgp {
		if rt.From.IsValid() {
			lf.PeerIP = addrString(rt.From)
		} else {
			lf.PeerIP = addrString(s.neighbor)
		}
	}
	return lf
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
// gateway; then every other field that shows in the output, so the order is total and equal input in any
// order yields equal output.
func compareRoutes(a, b *sortedRoute) int {
	ra, rb := a.rt, b.rt
	if c := ra.Prefix.Addr().Compare(rb.Prefix.Addr()); c != 0 {
		return c
	}
	if c := cmp.Compare(ra.Prefix.Bits(), rb.Prefix.Bits()); c != 0 {
		return c
	}
	if ra.Primary != rb.Primary {
		if ra.Primary {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(ra.Protocol, rb.Protocol); c != 0 {
		return c
	}
	if c := firstHop(ra).Gateway.WithZone("").Compare(firstHop(rb).Gateway.WithZone("")); c != 0 {
		return c
	}
	if c := cmp.Compare(routeInterface(ra), routeInterface(rb)); c != 0 {
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

func firstHop(rt *bird.Route) bird.NextHop {
	if len(rt.NextHops) == 0 {
		return bird.NextHop{}
	}
	return rt.NextHops[0]
}

// routeInterface is the first next hop's interface, or the kind of a route that drops traffic.
func routeInterface(rt *bird.Route) string {
	if rt.Kind != bird.RouteUnicast {
		return rt.Kind.String()
	}
	return firstHop(rt).Interface
}

func gatewayString(a netip.Addr) string {
	if !a.IsValid() {
		return gatewayNone
	}
	return a.WithZone("").String()
}

// mapRoute maps one route. A route that drops traffic has no gateway and its kind as interface, whatever
// next hops a parser may have attached.
func mapRoute(rt *bird.Route, s source) v3.CalicoNodeRoute {
	typ := v3.RouteTypeRIB
	if rt.Primary {
		typ = v3.RouteTypeFIB
	}
	out := v3.CalicoNodeRoute{
		Type:        typ,
		Destination: rt.Prefix.String(),
		Gateway:     gatewayNone,
		Interface:   routeInterface(rt),
		LearnedFrom: learnedFrom(rt, s),
	}
	if rt.Kind != bird.RouteUnicast {
		return out
	}
	out.Gateway = gatewayString(firstHop(rt).Gateway)
	if len(rt.NextHops) > 1 {
		n := min(len(rt.NextHops), maxNextHops)
		out.NextHops = make([]v3.CalicoNodeRouteNextHop, n)
		for i, h := range rt.NextHops[:n] {
			out.NextHops[i] = v3.CalicoNodeRouteNextHop{
				Gateway:   gatewayString(h.Gateway),
				Interface: h.Interface,
				Weight:    int32(min(max(h.Weight, 0), math.MaxInt32)),
			}
		}
	}
	return out
}

// mapRoutes maps one family's routes, sorted, capped at opts' count and size. When capping, FIB routes
// are kept first (in route order), then RIB routes; the kept routes are listed in route order.
func mapRoutes(d, other *bird.DaemonSnapshot, opts Options) ([]v3.CalicoNodeRoute, bool) {
	if len(d.Routes) == 0 {
		return nil, false
	}
	res := &sourceResolver{own: indexProtocols(d), other: indexProtocols(other), cache: map[string]source{}}
	all := make([]sortedRoute, len(d.Routes))
	for i := range d.Routes {
		all[i] = sortedRoute{rt: &d.Routes[i], src: res.resolve(d.Routes[i].Protocol)}
	}
	slices.SortFunc(all, func(a, b sortedRoute) int { return compareRoutes(&a, &b) })

	maxN, maxBytes := opts.maxRoutes(), opts.maxRouteBytes()
	// The list's JSON has brackets, and a comma per route but one: count a comma for every route.
	budget := maxBytes - 2
	type kept struct {
		idx   int
		route v3.CalicoNodeRoute
	}
	keep := make([]kept, 0, min(len(all), maxN))
	full := false
	take := func(primary bool) {
		for i := range all {
			if full {
				return
			}
			if all[i].rt.Primary != primary {
				continue
			}
			if len(keep) >= maxN {
				full = true
				return
			}
			r := mapRoute(all[i].rt, all[i].src)
			size := routeJSONSize(&r) + 1
			if size > budget {
				full = true
				return
			}
			budget -= size
			keep = append(keep, kept{i, r})
		}
	}
	take(true)
	take(false)
	// take() visited FIB routes first; put the kept ones back in route order.
	slices.SortFunc(keep, func(a, b kept) int { return cmp.Compare(a.idx, b.idx) })
	if len(keep) == 0 {
		return nil, len(all) > 0
	}
	out := make([]v3.CalicoNodeRoute, len(keep))
	for i := range keep {
		out[i] = keep[i].route
	}
	return out, len(out) < len(all)
}
