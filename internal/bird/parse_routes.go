package bird

import (
	"bytes"
	"net/netip"
)

// routesParser parses `show route` and `show route all`, streaming: it keeps the routes and nothing of
// the reply text but interned names.
//
// BIRD 1.6 (nest/rt-table.c rt_show_rte, "%-18s %s [%s %s%s]%s%s"): the next hop is on the route line,
// multipath next hops follow on their own lines, and further routes for the same prefix leave the prefix
// column blank:
//
//	1007-10.64.0.0/16       via 10.9.0.2 on vx1 [Mesh_10_9_0_2 10:14:35] * (100/0) [i]
//	 10.70.0.0/16       blackhole [static1 10:14:31] * (200)
//	                    via 10.9.0.2 on vx1 [Mesh_10_9_0_2 10:14:35 from 10.9.0.2] (100/0) [i]
//	 10.53.0.0/16       multipath [static1 10:14:31] * (200)
//	 	via 10.9.0.2 on vx1 weight 2
//	 192.168.1.0/24     dev dummy0 [direct1 10:14:31] * (240)
//
// BIRD 2.x (nest/rt-show.c, "%-20s %s [%s %s%s]%s%s"): "Table master4:" headings, the route line has only
// the destination type (unicast, blackhole, unreachable, prohibited), and every next hop has its own line:
//
//	1007-Table master4:
//	 10.63.0.0/16         unicast [s4 10:14:31.961] * (200)
//	 	via 10.9.0.1 on vx2 weight 2
//	 	dev dummy0
//
// `show route all` adds 1008 (Type) and 1012 (attributes) lines after each route; they are skipped.
//
// With a RouteSelection (sel), the parser keeps no route itself: each one is built in pending and, once
// its next-hop lines are read (when the next route starts, or at the end), offered to the selection,
// which copies what it keeps. Memory then stays the same whatever the size of the table.
type routesParser struct {
	cmd   string
	major int
	sel   *RouteSelection
	// pending is the route being read when selecting; hasPending says it holds one not yet offered.
	pending    Route
	hasPending bool
	// routes is allocated once with the caller's size hint; routes past its capacity go to fixed-size
	// chunks, joined once at the end. Growing one slice by append would allocate about 5× the final size
	// (Go grows large slices by 1.25×) and copy it over and over.
	routes   []Route
	chunks   [][]Route
	count    int
	warnings []Warning
	strs     interner
	// memos for the fields that repeat from route to route.
	protoMemo, sinceMemo, ifaceMemo memo
	gwMemo                          addrMemo
	// cur is the route next-hop lines belong to, nil when there is none (after a line that could not be
	// parsed, so its next hops are not given to the route before it). Routes never move once appended.
	cur *Route
	// prefix is the last prefix printed, for the routes that leave the column blank.
	prefix    netip.Prefix
	hasPrefix bool
	// nh is a slab the routes' next hops are cut from: one allocation per few thousand routes, not one
	// per route. nhStart is where the current route's next hops start in it.
	nh      []NextHop
	nhStart int
}

func newRoutesParser(cmd string, major int, sizeHint int) *routesParser {
	if sizeHint < 0 || sizeHint > 4<<20 {
		sizeHint = 0
	}
	return &routesParser{cmd: cmd, major: major, strs: interner{}, routes: make([]Route, 0, sizeHint)}
}

// newSelectingParser streams the routes into sel instead of keeping them.
func newSelectingParser(cmd string, major int, sel *RouteSelection) *routesParser {
	return &routesParser{cmd: cmd, major: major, strs: interner{}, sel: sel}
}

// flush offers the pending route to the selection.
func (p *routesParser) flush() {
	if p.hasPending {
		p.hasPending = false
		p.sel.Offer(&p.pending)
	}
}

const routeChunk = 16384

// newRoute returns a zeroed slot for the next route. Filling it in place saves copying a Route (and its
// pointer write barriers) per line.
func (p *routesParser) newRoute() *Route {
	p.count++
	if p.sel != nil {
		p.flush()
		p.pending, p.hasPending = Route{}, true
		p.nh, p.nhStart = p.nh[:0], 0 // the selection copied the last route's next hops
		return &p.pending
	}
	if len(p.routes) < cap(p.routes) {
		p.routes = p.routes[:len(p.routes)+1]
		return &p.routes[len(p.routes)-1]
	}
	n := len(p.chunks)
	if n == 0 || len(p.chunks[n-1]) == cap(p.chunks[n-1]) {
		p.chunks = append(p.chunks, make([]Route, 0, routeChunk))
		n++
	}
	c := p.chunks[n-1][:len(p.chunks[n-1])+1]
	p.chunks[n-1] = c
	return &c[len(c)-1]
}

// result returns the routes in reply order (nil when selecting: the selection holds them).
func (p *routesParser) result() []Route {
	p.cur = nil
	if p.sel != nil {
		p.flush()
		return nil
	}
	if len(p.chunks) == 0 {
		return p.routes
	}
	out := make([]Route, 0, p.count)
	out = append(out, p.routes...)
	for _, c := range p.chunks {
		out = append(out, c...)
	}
	p.routes, p.chunks = out, nil
	return out
}

func (p *routesParser) line(code int, text []byte, lineNo int) {
	if code != codeRouteLine {
		return // 1008/1012 attributes of `show route all`, the final 0000
	}
	if len(text) == 0 {
		return
	}
	switch text[0] {
	case '\t':
		p.nextHopLine(text, lineNo)
		return
	case 'T':
		if bytes.HasPrefix(text, []byte("Table ")) {
			p.cur = nil
			p.hasPrefix = false
			return
		}
	case ' ':
		if len(trimSpace(text)) == 0 {
			return // the blank line between tables
		}
		if !p.hasPrefix {
			p.cur = nil
			p.warn(lineNo, text, "route without a prefix")
			return
		}
		p.routeLine(p.prefix, text, lineNo)
		return
	}
	pf, rest := nextField(text)
	prefix, err := parsePrefix(pf)
	if err != nil {
		p.cur = nil
		p.hasPrefix = false
		p.warn(lineNo, text, err.Error())
		return
	}
	p.prefix, p.hasPrefix = prefix, true
	p.routeLine(prefix, rest, lineNo)
}

// routeLine reads what follows the prefix: "<destination> [<protocol> <since>[ from <addr>]][ *|!] ...".
func (p *routesParser) routeLine(prefix netip.Prefix, b []byte, lineNo int) {
	full := b
	open := bytes.IndexByte(b, '[')
	if open < 0 {
		p.cur = nil
		p.warn(lineNo, full, "route line without [protocol since]")
		return
	}
	closing := bytes.IndexByte(b[open:], ']')
	if closing < 0 {
		p.cur = nil
		p.warn(lineNo, full, "route line without closing ]")
		return
	}
	closing += open
	var (
		kind  RouteKind
		from  netip.Addr
		proto string
	)
	var gw netip.Addr
	var iface []byte
	hasHop := false

	// Destination.
	dest, rest := nextField(b[:open])
	switch string(dest) {
	case "unicast", "multipath":
	case "blackhole":
		kind = RouteBlackhole
	case "unreachable":
		kind = RouteUnreachable
	case "prohibited", "prohibit":
		kind = RouteProhibit
	case "via": // 1.6: "via 10.0.0.1 on eth0"
		g, r2 := nextField(rest)
		a, err := p.gwMemo.parse(g)
		if err != nil {
			p.cur = nil
			p.warn(lineNo, full, err.Error())
			return
		}
		gw, hasHop = a, true
		if on, r3 := nextField(r2); string(on) == "on" {
			iface, _ = nextField(r3)
		}
	case "dev": // 1.6: "dev eth0"
		iface, _ = nextField(rest)
		hasHop = len(iface) > 0
	default:
		p.cur = nil
		p.warn(lineNo, full, "unknown route destination "+quote(string(dest)))
		return
	}

	// [protocol since from addr]
	in := b[open+1 : closing]
	name, in := nextField(in)
	if len(name) == 0 {
		p.cur = nil
		p.warn(lineNo, full, "route without a protocol")
		return
	}
	proto = p.protoMemo.get(p.strs, name)
	since := trimSpace(in)
	// "<since> from <addr>": since is one or two fields, so "from" can only be the next-to-last one.
	if j := bytes.LastIndexByte(since, ' '); j > 5 && bytes.HasSuffix(since[:j], []byte(" from")) {
		a, err := parseAddr(since[j+1:])
		if err != nil {
			p.cur = nil
			p.warn(lineNo, full, err.Error())
			return
		}
		from = a
		since = trimSpace(since[:j-len(" from")])
	}

	r := p.newRoute()
	r.Prefix, r.Kind, r.Protocol, r.From = prefix, kind, proto, from
	r.Since = p.sinceMemo.get(p.strs, trimFraction(since))
	// " *" marks the primary route; " !" a primary one the kernel refused (still BIRD's choice).
	if mark, _ := nextField(b[closing+1:]); len(mark) == 1 && (mark[0] == '*' || mark[0] == '!') {
		r.Primary, r.SyncError = true, mark[0] == '!'
	}
	p.cur = r
	p.nhStart = len(p.nh)
	if hasHop {
		p.addNextHop(NextHop{Gateway: gw, Interface: p.ifaceMemo.get(p.strs, iface)})
	}
}

// nextHopLine reads "\tvia 10.0.0.1 on eth0 [mpls 100/200] [onlink] [weight 2]" or "\tdev eth0".
func (p *routesParser) nextHopLine(text []byte, lineNo int) {
	if p.cur == nil {
		p.warn(lineNo, text, "next hop without a route")
		return
	}
	var nh NextHop
	kw, rest := nextField(text)
	switch string(kw) {
	case "via":
		g, r := nextField(rest)
		a, err := p.gwMemo.parse(g)
		if err != nil {
			p.warn(lineNo, text, err.Error())
			return
		}
		nh.Gateway = a
		rest = r
	case "dev":
		d, r := nextField(rest)
		if len(d) == 0 {
			p.warn(lineNo, text, "dev without an interface")
			return
		}
		nh.Interface = p.ifaceMemo.get(p.strs, d)
		rest = r
	default:
		p.warn(lineNo, text, "unknown next hop "+quote(string(kw)))
		return
	}
	for {
		var f []byte
		f, rest = nextField(rest)
		if len(f) == 0 {
			break
		}
		switch string(f) {
		case "on":
			f, rest = nextField(rest)
			nh.Interface = p.ifaceMemo.get(p.strs, f)
		case "weight":
			f, rest = nextField(rest)
			if w, ok := parseSmallUint(f, 1<<16); ok {
				nh.Weight = w
			} else {
				p.warn(lineNo, text, "unreadable weight")
			}
		}
		// "mpls 100/200", "onlink": not part of the snapshot.
	}
	p.addNextHop(nh)
}

// addNextHop appends nh to the current route's next hops, cut from the slab. A route's next hops are
// printed together, so they stay contiguous in it.
func (p *routesParser) addNextHop(nh NextHop) {
	if len(p.cur.NextHops) >= MaxNextHops {
		return // more than a status can show; see MaxNextHops
	}
	if len(p.nh) == cap(p.nh) {
		size := 4096
		if p.sel != nil {
			size = MaxNextHops // one route's next hops at a time
		}
		if n := len(p.nh) - p.nhStart; n*2 > size {
			size = n * 2
		}
		slab := make([]NextHop, 0, size)
		slab = append(slab, p.nh[p.nhStart:]...)
		p.nh, p.nhStart = slab, 0
	}
	p.nh = append(p.nh, nh)
	p.cur.NextHops = p.nh[p.nhStart:len(p.nh):len(p.nh)]
}

func (p *routesParser) warn(lineNo int, text []byte, err string) {
	p.warnings = appendWarning(p.warnings, p.cmd, lineNo, text, err)
}
