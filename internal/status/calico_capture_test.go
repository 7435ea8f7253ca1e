package status

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// TestCalicoForkCaptures: Calico's BIRD fork (v0.3.3+birdv1.6.8, what calico-node runs), captured in the
// lab's calico flavour, replayed over Unix sockets through the real Collector and mapped; every field of
// the status is checked against what the fork's own client (birdcl) printed at capture time, read here
// with regular expressions independently of the parsers. The golden files and
// TestCapturesSameAcrossVersions cover the same replies against reviewed output and against BIRD 1.6.8.
func TestCalicoForkCaptures(t *testing.T) {
	dir := filepath.Join(capturesDir, "bird-"+calicoFork)
	for _, st := range labStates {
		if st.name == "timeformat-default" {
			continue // birdc saw a few of its commands only, in BIRD's short default times: the golden covers it
		}
		t.Run(st.name, func(t *testing.T) {
			snap := collectCaptured(t, calicoFork, st)
			if snap.V4.Socket == snap.V6.Socket || snap.V4.Status.Major != 1 || snap.V6.Status.Major != 1 ||
				snap.V4.DialectNote != "" || snap.V6.DialectNote != "" {
				t.Fatalf("fork read as: sockets %s / %s, major %d / %d, notes %q / %q; want two BIRD 1.x daemons, version recognised",
					snap.V4.Socket, snap.V6.Socket, snap.V4.Status.Major, snap.V6.Status.Major, snap.V4.DialectNote, snap.V6.DialectNote)
			}
			got := Build(snap, allClasses, Options{})
			if issues := slices.Concat(got.Agent.Issues, got.BGP.Issues, got.Routes.Issues); len(issues) > 0 {
				t.Errorf("issues on a healthy fork: %+v", issues)
			}
			birdc := func(prefix, base string) []string {
				for _, name := range []string{prefix + base + st.suffix + ".birdc.txt", prefix + base + ".birdc.txt"} {
					if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
						return birdcOutput(t, b)
					}
				}
				t.Fatalf("no birdc view %s%s in %s", prefix, base, dir)
				return nil
			}
			for _, fam := range []struct {
				prefix string
				daemon *v3.BGPDaemonStatus
				peers  []v3.CalicoNodePeer
				est    int
				notEst int
				routes []v3.CalicoNodeRoute
				total  int
			}{
				{"v4-", got.Agent.BIRDV4, got.BGP.PeersV4, got.BGP.NumberEstablishedV4, got.BGP.NumberNotEstablishedV4, got.Routes.RoutesV4, got.Routes.TotalV4},
				{"v6-", got.Agent.BIRDV6, got.BGP.PeersV6, got.BGP.NumberEstablishedV6, got.BGP.NumberNotEstablishedV6, got.Routes.RoutesV6, got.Routes.TotalV6},
			} {
				t.Run(fam.prefix+"family", func(t *testing.T) {
					checkForkDaemon(t, fam.daemon, birdc(fam.prefix, "show-status"))
					protos := birdcProtocols(birdc(fam.prefix, "show-protocols-all"))
					checkForkPeers(t, fam.peers, fam.est, fam.notEst, protos)
					routesFile := "show-route"
					if st.routes == "show route all" {
						routesFile = "show-route-all"
					}
					want := birdcRoutes(t, birdc(fam.prefix, routesFile), protos)
					if fam.total != len(want) || len(fam.routes) != len(want) {
						t.Errorf("routes: total %d, listed %d; birdcl shows %d", fam.total, len(fam.routes), len(want))
					}
					gotRoutes := make([]string, len(fam.routes))
					for j, r := range fam.routes {
						gotRoutes[j] = routeKey(r)
					}
					slices.Sort(gotRoutes)
					slices.Sort(want)
					if !slices.Equal(gotRoutes, want) {
						t.Errorf("routes differ from birdcl's (- status, + birdcl):\n%s", lineDiff(strings.Join(gotRoutes, "\n"), strings.Join(want, "\n")))
					}
				})
			}
		})
	}
}

// birdcOutput returns birdc's lines without its greeting, which must be the fork's.
func birdcOutput(t *testing.T, b []byte) []string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) == 0 || lines[0] != "BIRD "+calicoFork+" ready." {
		t.Fatalf("birdc view does not start with the fork's greeting: %q", lines)
	}
	return lines[1:]
}

func checkForkDaemon(t *testing.T, d *v3.BGPDaemonStatus, out []string) {
	t.Helper()
	text := strings.Join(out, "\n") + "\n"
	field := func(re string) string {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("birdcl's show status lacks %s:\n%s", re, text)
		}
		return m[1]
	}
	if d == nil {
		t.Fatal("no daemon status")
	}
	wantState := v3.BGPDaemonStateNotReady
	if strings.Contains(text, "\nDaemon is up and running\n") {
		wantState = v3.BGPDaemonStateReady
	}
	if d.Version != field(`(?m)^BIRD (\S+)$`) || d.Version != calicoFork || d.State != wantState || d.RouterID != field(`Router ID is (\S+)`) {
		t.Errorf("daemon %+v; birdcl says version %q, state %s, router ID %q", *d, field(`(?m)^BIRD (\S+)$`), wantState, field(`Router ID is (\S+)`))
	}
	// BIRD 1.x prints a stored time as now_real - (now - t): two printings a moment apart may differ by 1 s.
	for _, c := range []struct{ got, re string }{
		{d.LastBootTime, `Last reboot on (\S+ \S+)`},
		{d.LastReconfigurationTime, `Last reconfiguration on (\S+ \S+)`},
	} {
		if !withinASecond(c.got, field(c.re)) {
			t.Errorf("time %q, birdcl says %q", c.got, field(c.re))
		}
	}
}

func withinASecond(a, b string) bool {
	const layout = "2006-01-02 15:04:05"
	ta, errA := time.Parse(layout, a)
	tb, errB := time.Parse(layout, b)
	if errA != nil || errB != nil {
		return false
	}
	d := ta.Sub(tb)
	return d >= -time.Second && d <= time.Second
}

// birdcProto is one protocol as birdc's `show protocols all` prints it.
type birdcProto struct {
	name, kind, state, since, info string
	bgpState, neighbor, lastError  string
	neighborAS, imported, exported int
	holdTime                       int
}

var (
	birdcProtoLine = regexp.MustCompile(`^(\S+)\s+(\S+)\s+\S+\s+(up|down|start|stop|feed|flush)\s+(\S+ \d\d:\d\d:\d\d)\s*(.*?)\s*$`)
	birdcDetail    = regexp.MustCompile(`^\s+([A-Za-z ]+):\s+(.*?)\s*$`)
)

func birdcProtocols(out []string) []birdcProto {
	var ps []birdcProto
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for _, l := range out {
		if m := birdcProtoLine.FindStringSubmatch(l); m != nil && m[1] != "name" {
			ps = append(ps, birdcProto{name: m[1], kind: m[2], state: m[3], since: m[4], info: strings.Join(strings.Fields(m[5]), " ")})
			continue
		}
		m := birdcDetail.FindStringSubmatch(l)
		if m == nil || len(ps) == 0 {
			continue
		}
		p := &ps[len(ps)-1]
		switch m[1] {
		case "BGP state":
			p.bgpState = m[2]
		case "Neighbor address":
			p.neighbor = m[2]
		case "Neighbor AS":
			p.neighborAS = atoi(m[2])
		case "Last error":
			p.lastError = m[2]
		case "Routes":
			f := strings.Fields(m[2]) // "3 imported, 3 exported, 3 preferred"
			p.imported, p.exported = atoi(f[0]), atoi(f[2])
		case "Hold timer":
			if _, negotiated, ok := strings.Cut(m[2], "/"); ok {
				p.holdTime = atoi(negotiated)
			}
		}
	}
	return ps
}

func checkForkPeers(t *testing.T, peers []v3.CalicoNodePeer, est, notEst int, protos []birdcProto) {
	t.Helper()
	byName := map[string]v3.CalicoNodePeer{}
	for _, p := range peers {
		byName[p.Protocol] = p
	}
	wantEst, wantNot := 0, 0
	seen := map[string]bool{}
	for _, b := range protos {
		if b.kind != "BGP" {
			continue
		}
		seen[b.name] = true
		p, ok := byName[b.name]
		if !ok {
			t.Errorf("birdcl shows BGP protocol %s; no peer in the status", b.name)
			continue
		}
		ip, zone, _ := strings.Cut(b.neighbor, "%")
		typ := map[string]v3.BGPPeerType{"Mesh": v3.BGPPeerTypeNodeMesh, "Node": v3.BGPPeerTypeNodePeer, "Global": v3.BGPPeerTypeGlobalPeer}[strings.SplitN(b.name, "_", 2)[0]]
		var state v3.BGPSessionState
		info := ""
		switch b.bgpState {
		case "Established":
			state = v3.BGPSessionStateEstablished
			wantEst++
		case "Down":
			state, info = v3.BGPSessionStateIdle, "Down (disabled)"
			wantNot++
		case "Passive": // waiting for the peer (the mesh's passive side) to call again
			state, info = v3.BGPSessionStateActive, "Passive"
			if b.lastError != "" {
				info = "Passive (" + b.lastError + ")"
			}
			wantNot++
		case "Connect", "Active":
			// birdcl looked a moment after the capture: a peer that never answers cycles between the two.
			state, info = p.State, b.lastError
			if p.State != v3.BGPSessionStateConnect && p.State != v3.BGPSessionStateActive {
				t.Errorf("%s: state %q, birdcl says %s", b.name, p.State, b.bgpState)
			}
			wantNot++
		default:
			t.Fatalf("%s: BGP state %q not in the lab", b.name, b.bgpState)
		}
		want := v3.CalicoNodePeer{
			PeerIP: ip, Zone: zone, Type: typ, State: state, Since: b.since, Info: info, Protocol: b.name,
			NeighborAS: int64(b.neighborAS), HoldTimeSeconds: int32(b.holdTime),
			RoutesImported: int64(b.imported), RoutesExported: int64(b.exported),
		}
		if fmt.Sprintf("%+v", p) != fmt.Sprintf("%+v", want) {
			t.Errorf("peer %s:\n status %+v\nbirdcl %+v", b.name, p, want)
		}
	}
	for name := range byName {
		if !seen[name] {
			t.Errorf("peer %s in the status; birdcl shows no such BGP protocol", name)
		}
	}
	if est != wantEst || notEst != wantNot || wantEst == 0 || wantNot == 0 {
		t.Errorf("established %d, not established %d; birdcl: %d and %d", est, notEst, wantEst, wantNot)
	}
}

// birdcRoutes reads birdc's `show route [all]` into the keys routeKey gives a mapped route. protos gives
// each route's source kind and, for BGP, the neighbor the route came from.
var (
	birdcRouteLine = regexp.MustCompile(`^(\S+)?\s+(.*?)\s*\[(\S+) [^\]]*\]( [*!])?`)
	birdcVia       = regexp.MustCompile(`^via (\S+) on (\S+)`)
	birdcDev       = regexp.MustCompile(`^dev (\S+)`)
	birdcHop       = regexp.MustCompile(`^\s+via (\S+) on (\S+)(?: weight (\d+))?`)
)

func birdcRoutes(t *testing.T, out []string, protos []birdcProto) []string {
	t.Helper()
	type route struct {
		dest, gw, iface, proto string
		fib                    bool
		hops                   []string
	}
	var rs []route
	dest := ""
	for _, l := range out {
		if m := birdcHop.FindStringSubmatch(l); m != nil && strings.HasPrefix(l, "\t") && len(rs) > 0 {
			r := &rs[len(rs)-1]
			r.hops = append(r.hops, m[1]+" "+m[2]+" "+m[3])
			if len(r.hops) == 1 {
				r.gw, r.iface = m[1], m[2]
			}
			continue
		}
		if strings.HasPrefix(l, "\t") {
			continue // show route all: Type and BGP attribute lines
		}
		m := birdcRouteLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[1] != "" {
			dest = m[1]
		}
		r := route{dest: dest, gw: "N/A", proto: m[3], fib: m[4] == " *"}
		switch what := m[2]; {
		case birdcVia.MatchString(what):
			v := birdcVia.FindStringSubmatch(what)
			r.gw, r.iface = v[1], v[2]
		case birdcDev.MatchString(what):
			r.iface = birdcDev.FindStringSubmatch(what)[1]
		case what == "prohibited":
			r.iface = "prohibit"
		case what == "blackhole", what == "unreachable", what == "multipath":
			if what != "multipath" {
				r.iface = what
			}
		default:
			t.Fatalf("birdcl route line %q: %q not understood", l, what)
		}
		rs = append(rs, r)
	}
	kind := map[string]birdcProto{}
	for _, p := range protos {
		kind[p.name] = p
	}
	keys := make([]string, 0, len(rs))
	for _, r := range rs {
		p, ok := kind[r.proto]
		if !ok {
			t.Fatalf("route %s from %s, which birdcl's show protocols does not list", r.dest, r.proto)
		}
		var src v3.CalicoNodeRouteSourceType
		peer := ""
		switch p.kind {
		case "Static":
			src = v3.RouteSourceTypeStatic
		case "Kernel":
			src = v3.RouteSourceTypeKernel
		case "Direct", "Device":
			src = v3.RouteSourceTypeDirect
		case "BGP":
			src = v3.RouteSourceTypeBGPPeer
			if strings.HasPrefix(p.name, "Mesh_") {
				src = v3.RouteSourceTypeNodeMesh
			}
			peer, _, _ = strings.Cut(p.neighbor, "%") // no route reflector in the lab: from = the neighbor
		}
		typ := v3.RouteTypeRIB
		if r.fib {
			typ = v3.RouteTypeFIB
		}
		if pfx, err := netip.ParsePrefix(r.dest); err == nil {
			r.dest = pfx.String()
		}
		keys = append(keys, fmt.Sprintf("%s %s gw=%s if=%s src=%s peer=%s hops=%v", r.dest, typ, r.gw, r.iface, src, peer, r.hops))
	}
	return keys
}

func routeKey(r v3.CalicoNodeRoute) string {
	var hops []string
	if len(r.NextHops) > 1 {
		for _, h := range r.NextHops {
			w := ""
			if h.Weight != 0 {
				w = strconv.Itoa(int(h.Weight))
			}
			hops = append(hops, h.Gateway+" "+h.Interface+" "+w)
		}
	}
	return fmt.Sprintf("%s %s gw=%s if=%s src=%s peer=%s hops=%v", r.Destination, r.Type, r.Gateway, r.Interface,
		r.LearnedFrom.SourceType, r.LearnedFrom.PeerIP, hops)
}
