package status

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// Hand-built snapshots, shaped like what the lab (test/lab) produces on one node: a three-node mesh over
// IPv4 and IPv6, a ToR global peer announcing routes, a peer that never connects, a passive peer, a
// disabled peer, static blackhole/unreachable/prohibit routes, a multipath route.

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func hop(gw, iface string) bird.NextHop {
	h := bird.NextHop{Interface: iface}
	if gw != "" {
		h.Gateway = addr(gw)
	}
	return h
}

func status(version string, up bool) *bird.Status {
	msg := "Daemon is up and running"
	if !up {
		msg = "Reconfiguration in progress"
	}
	return &bird.Status{
		Version: version, Major: int(version[0] - '0'), RouterID: "10.0.0.1",
		BootTime: "2026-11-24 09:00:00", LastReconfiguration: "2026-11-24 09:00:05",
		Up: up, Message: msg,
	}
}

func proto(name, kind, state, info string) bird.Protocol {
	return bird.Protocol{Name: name, Kind: kind, Table: "master", State: state, Since: "09:00:01", Info: info}
}

func bgpProto(name, state, info, bgpState, neighbor, lastError string, imported, exported int64) bird.Protocol {
	p := proto(name, "BGP", state, info)
	p.Routes = bird.RouteCounts{Imported: imported, Exported: exported, Preferred: imported}
	p.BGP = &bird.BGPSession{
		State: bgpState, Neighbor: addr(neighbor), NeighborAS: 64512, LocalAS: 64512,
		LastError: lastError,
	}
	if bgpState == "Established" {
		p.BGP.HoldTime = 90 * time.Second
		p.BGP.KeepaliveTime = 30 * time.Second
	}
	return p
}

func route(prefix, protocol string, primary bool, hops ...bird.NextHop) bird.Route {
	return bird.Route{Prefix: pfx(prefix), Primary: primary, Protocol: protocol, NextHops: hops, Since: "09:00:02"}
}

func dropRoute(prefix, protocol string, kind bird.RouteKind) bird.Route {
	return bird.Route{Prefix: pfx(prefix), Kind: kind, Primary: true, Protocol: protocol, Since: "09:00:02"}
}

func fromRoute(r bird.Route, from string) bird.Route {
	r.From = addr(from)
	return r
}

func labV4() bird.DaemonSnapshot {
	ecmp := route("10.96.0.0/12", "static_ecmp", true, hop("10.0.0.2", "eth0"), hop("10.0.0.3", "eth1"))
	ecmp.NextHops[0].Weight = 1
	ecmp.NextHops[1].Weight = 2
	return bird.DaemonSnapshot{
		Family: bird.IPv4,
		Socket: "/var/run/calico/bird.ctl",
		Status: status("1.6.8", true),
		Protocols: []bird.Protocol{
			proto("static1", "Static", "up", ""),
			proto("static_ecmp", "Static", "up", ""),
			proto("kernel1", "Kernel", "up", ""),
			proto("device1", "Device", "up", ""),
			proto("direct1", "Direct", "up", ""),
			proto("pipe1", "Pipe", "up", "master => t_tor"),
			bgpProto("Mesh_10_0_0_2", "up", "Established", "Established", "10.0.0.2", "", 2, 3),
			bgpProto("Mesh_10_0_0_3", "up", "Established", "Established", "10.0.0.3", "Socket: Connection reset by peer", 1, 3),
			bgpProto("Mesh_10_0_0_9", "start", "Active        Socket: Connection refused", "Active", "10.0.0.9", "Socket: Connection refused", 0, 0),
			bgpProto("Node_10_0_0_20", "start", "Passive", "Passive", "10.0.0.20", "", 0, 0),
			bgpProto("Global_10_0_0_254", "up", "Established", "Established", "10.0.0.254", "", 3, 3),
			bgpProto("Global_10_0_0_253", "down", "", "Down", "10.0.0.253", "", 0, 0),
			bgpProto("upstream1", "start", "Connect", "Connect", "10.0.0.100", "", 0, 0),
		},
		Routes: []bird.Route{
			route("0.0.0.0/0", "kernel1", true, hop("10.0.0.254", "eth0")),
			route("0.0.0.0/0", "Global_10_0_0_254", false, hop("10.0.0.254", "eth0")),
			route("10.0.0.0/24", "direct1", true, hop("", "eth0")),
			route("192.168.1.0/26", "Mesh_10_0_0_2", true, hop("10.0.0.2", "eth0")),
			route("192.168.2.0/26", "Mesh_10_0_0_3", true, hop("10.0.0.3", "eth0")),
			fromRoute(route("192.168.2.0/26", "Global_10_0_0_254", false, hop("10.0.0.3", "eth0")), "10.0.0.254"),
			dropRoute("192.168.0.0/26", "static1", bird.RouteBlackhole),
			dropRoute("192.168.0.64/26", "static1", bird.RouteUnreachable),
			dropRoute("192.168.0.128/26", "static1", bird.RouteProhibit),
			ecmp,
			route("172.16.0.0/16", "Global_10_0_0_254", true, hop("10.0.0.254", "eth0")),
			route("172.17.0.0/16", "pipe1", true, hop("10.0.0.254", "eth0")),
			route("172.18.0.0/16", "ospf_mystery", true, hop("10.0.0.254", "eth0")),
			route("192.168.0.1/32", "kernel1", true, hop("", "cali12345")),
		},
		CollectedAt: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC),
	}
}

func labV6() bird.DaemonSnapshot {
	ll := bgpProto("Mesh_fe80__2", "up", "Established", "Established", "fe80::2", "", 1, 1)
	ll.BGP.Interface = "eth0" // BIRD printed the zone only as the session interface
	return bird.DaemonSnapshot{
		Family: bird.IPv6,
		Socket: "/var/run/calico/bird6.ctl",
		Status: status("1.6.8", true),
		Protocols: []bird.Protocol{
			proto("static1", "Static", "up", ""),
			proto("kernel1", "Kernel", "up", ""),
			proto("device1", "Device", "up", ""),
			proto("direct1", "Direct", "up", ""),
			bgpProto("Mesh_fd00__2", "up", "Established", "Established", "fd00::2", "", 2, 2),
			bgpProto("Mesh_fd00__3", "start", "OpenSent", "OpenSent", "fd00::3", "", 0, 0),
			bgpProto("Mesh_fe80__3", "up", "Established", "Established", "fe80::3%eth1", "", 1, 1),
			ll,
			bgpProto("Node_fd00__20", "stop", "", "", "fd00::20", "Received: Cease", 0, 0),
		},
		Routes: []bird.Route{
			route("::/0", "kernel1", true, hop("fd00::fe", "eth0")),
			route("fd00::/64", "direct1", true, hop("", "eth0")),
			route("fd10:1::/122", "Mesh_fd00__2", true, hop("fd00::2", "eth0")),
			route("fd10:2::/122", "Mesh_fe80__2", true, hop("fe80::2", "eth0")),
			fromRoute(route("fd10:2::/122", "Mesh_fe80__3", false, hop("fe80::3", "eth1")), "fe80::3%eth1"),
			dropRoute("fd10::/122", "static1", bird.RouteBlackhole),
			route("fd10:3::/122", "Mesh_fd00__2", true, hop("fd00::2", "eth0"), hop("fd00::3", "eth0")),
		},
	}
}

func lab() bird.Snapshot { return bird.Snapshot{V4: labV4(), V6: labV6()} }

// Errors of the shapes the bird package produces: a missing socket, a refused connection, a reply cut
// off, a parse failure.
var (
	errNoSocket = fmt.Errorf("dial unix /var/run/calico/bird.ctl: %w",
		&net.OpError{Op: "dial", Net: "unix", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ENOENT}})
	errRefused  = fmt.Errorf("show protocols all: %w", &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED})
	errCut      = fmt.Errorf("show route all: reply ended without its last line: %w", io.ErrUnexpectedEOF)
	errParse    = errors.New("show route all line 12: bad prefix \"10.0.0/33\"")
	errTruncEOF = fmt.Errorf("read reply: %w", os.ErrDeadlineExceeded)
)
