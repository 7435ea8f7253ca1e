package bird

import (
	"net/netip"
	"time"
)

// Family is an address family.
type Family int

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return "unknown"
}

// Status is what `show status` reports.
type Status struct {
	// Version is the daemon's version as it prints it, for example "1.6.8", "2.0.12" or Calico's
	// "v0.3.3+birdv1.6.8".
	Version string
	// Major is the major version of the BIRD it is (1 for Calico's fork of 1.6.8); when Version cannot be
	// read, the dialect its replies were read in (DaemonSnapshot.DialectNote says why).
	Major int
	// RouterID is the daemon's router ID.
	RouterID string
	// BootTime and LastReconfiguration are as the daemon prints them ("2021-10-18 09:23:19"; BIRD 2
	// adds milliseconds, which are dropped so both versions print alike).
	BootTime            string
	LastReconfiguration string
	// Up is true when the daemon says "Daemon is up and running".
	Up bool
	// Message is the daemon's closing word, for example "Daemon is up and running" or
	// "Reconfiguration in progress".
	Message string
}

// Protocol is one BIRD protocol instance from `show protocols all`.
type Protocol struct {
	// Name is the protocol's name, for example Mesh_10_0_0_2, kernel1, static1.
	Name string
	// Kind is BIRD's protocol type as printed: BGP, Kernel, Device, Direct, Static, Pipe, ...
	Kind string
	// Table is the routing table the protocol is attached to ("master" in 1.6, "master4"/"---" in 2.x).
	Table string
	// State is BIRD's protocol state: up, down, start, stop, feed, flush.
	State string
	// Since is when State last changed, as printed (seconds precision).
	Since string
	// Info is the info column: "Established", "Active Socket: Connection refused", "Passive", ...
	Info string
	// Routes are the route counters; for BIRD 2 the sum over the protocol's channels.
	Routes RouteCounts
	// BGP is set for BGP protocols.
	BGP *BGPSession
}

// RouteCounts are a protocol's route counters.
type RouteCounts struct {
	Imported, Filtered, Exported, Preferred int64
}

// BGPSession is the BGP part of `show protocols all`.
type BGPSession struct {
	// State is the BGP state BIRD prints ("BGP state:"): Idle, Connect, Active, OpenSent, OpenConfirm,
	// Established, Close, or BIRD's own words such as Down or Passive.
	State string
	// Neighbor is the neighbor address, with its zone for IPv6 link-local peers.
	Neighbor netip.Addr
	// NeighborPort is the neighbor's TCP port when it is not 179; 0 otherwise. BIRD 2 prints it
	// ("Neighbor port:"); BIRD 1.6 does not, so it is 0 there whatever the port (Calico's protocol names
	// carry it as a "_port_<n>" suffix).
	NeighborPort int
	// Interface is the neighbor's interface when BIRD prints one (the zone of a link-local neighbor,
	// "fe80::1%eth0" -> "eth0").
	Interface  string
	NeighborAS uint32
	// LocalAS is printed by BIRD 2 only ("Local AS:"); 0 for BIRD 1.6.
	LocalAS uint32
	// NeighborID is the peer's router ID, printed once the session is established.
	NeighborID string
	// SourceAddress is the local address of the session when BIRD prints one.
	SourceAddress netip.Addr
	// HoldTime and KeepaliveTime are the negotiated timers (zero when not established).
	HoldTime      time.Duration
	KeepaliveTime time.Duration
	// LastError is BIRD's "Last error:" line, for example "Socket: Connection refused".
	LastError string
	// Channels are the address families the session carries (BIRD 2); for BIRD 1.6 the daemon's family.
	Channels []Family
}

// RouteKind is a route's kind: an ordinary route via next hops, or one that drops traffic.
type RouteKind int

const (
	RouteUnicast RouteKind = iota
	RouteBlackhole
	RouteUnreachable
	RouteProhibit
)

func (k RouteKind) String() string {
	switch k {
	case RouteBlackhole:
		return "blackhole"
	case RouteUnreachable:
		return "unreachable"
	case RouteProhibit:
		return "prohibit"
	}
	return "unicast"
}

// NextHop is one next hop of a route.
type NextHop struct {
	// Gateway is invalid (the zero Addr) for a directly connected route ("dev eth0").
	Gateway   netip.Addr
	Interface string
	// Weight is the multipath weight when BIRD prints one.
	Weight int
}

// Route is one entry of `show route`: one route for one prefix from one protocol.
type Route struct {
	Prefix netip.Prefix
	Kind   RouteKind
	// Primary is true for the route BIRD selected for this prefix (marked '*'), the one it exports to the
	// kernel: FIB. The other entries for the prefix are RIB. BIRD marks a selected route the kernel
	// refused with '!' instead: it is Primary too, with SyncError set.
	Primary bool
	// SyncError is set for a selected route BIRD failed to install in the kernel ('!').
	SyncError bool
	// NextHops has one element per next hop; more than one for multipath; none for blackhole etc.
	NextHops []NextHop
	// Protocol is the name of the protocol that provided the route.
	Protocol string
	// Since is when the route last changed, as printed.
	Since string
	// From is the BGP neighbor the route came from when BIRD prints it ("from 10.0.0.2"); otherwise
	// invalid, and the neighbor is the Protocol's BGPSession.Neighbor.
	From netip.Addr
}

// Warning is an input line a parser could not understand and skipped; the rest of the reply survived.
// Line counts the lines of the reply from 1 (the greeting is not counted). At most 100 are kept per reply;
// the last one then says that more were skipped.
type Warning struct {
	Command string
	Line    int
	Text    string
	Err     string
}

// DaemonSnapshot is what one BIRD daemon reported for one address family in one collection. Every section
// has its own error, so one failure (a daemon down, a reply cut off) degrades only that section.
type DaemonSnapshot struct {
	Family Family
	// Socket is the control socket path that was read (with fallbacks, the one that accepted).
	Socket string
	// DialectNote is set when the daemon's version could not be read: it says in which dialect (BIRD 1.x
	// or 2.x replies) the daemon was read, and why. Empty when the version decided it.
	DialectNote string
	// Restricted: the Collector asked for a restricted session (Collector.Restrict) and the daemon
	// accepted it.
	Restricted bool

	Status    *Status
	StatusErr error

	// Protocols lists the protocols relevant to Family (for BIRD 2, BGP sessions whose neighbor is of
	// Family, and every non-BGP protocol).
	Protocols    []Protocol
	ProtocolsErr error

	// Routes lists the routes of Family: all of them, or, when the Collector selects (MaxRoutes), those a
	// capped status can list (see RouteSelection); RouteTotals then counts them all.
	Routes    []Route
	RoutesErr error
	// RouteTotals counts every route of Family read when the Collector selected; zero otherwise (see
	// TotalRoutes and FIBRoutes, which fall back on Routes).
	RouteTotals RouteTotals

	// Warnings are the lines skipped in this daemon's replies. With BIRD 2 both families come from the
	// same replies and carry the same warnings (count them once per daemon, see Socket).
	Warnings []Warning
	// CollectedAt is when this snapshot was taken.
	CollectedAt time.Time
}

// Snapshot is one collection from the node's BIRD daemon(s). With BIRD 1.6, V4 and V6 come from bird.ctl
// and bird6.ctl; with BIRD 2, both come from one daemon and are split by family.
type Snapshot struct {
	V4 DaemonSnapshot
	V6 DaemonSnapshot
}

// TotalRoutes is the number of routes of the family the daemon holds: RouteTotals.Routes when the
// collection counted them, else len(Routes).
func (d *DaemonSnapshot) TotalRoutes() int {
	return max(d.RouteTotals.Routes, len(d.Routes))
}

// FIBRoutes is the number of those routes in the forwarding table (Route.InFIB).
func (d *DaemonSnapshot) FIBRoutes() int {
	if d.RouteTotals.Routes > 0 {
		return d.RouteTotals.FIB
	}
	n := 0
	for i := range d.Routes {
		if d.Routes[i].InFIB() {
			n++
		}
	}
	return n
}
