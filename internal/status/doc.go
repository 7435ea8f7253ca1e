// Package status maps a BIRD snapshot (package bird) and the classes a CalicoNodeStatus asks for to the
// status sections of the projectcalico.org/v3 contract (Build), and the sections and the status last
// written to the status to hold (Desired: conditions, BIRD time smoothing, retrying peers; SameContent
// says whether it changed). It is pure: no I/O, no Kubernetes client, no clock; equal snapshots give equal
// sections whatever the order of protocols and routes in them. The agent (internal/agent) schedules,
// reads BIRD and writes what this package computes.
//
// It keeps Calico's mapping (node/pkg/status) and fixes its bugs: one family failing does not wipe the
// other; skipped lines are reported, not silently lost; every BIRD state maps to a defined value; peer
// IPs come from BIRD's neighbor address, not from un-mangling protocol names; lists are sorted; an
// unknown route source does not fail the whole route list.
//
// # Sections
//
// A section is non-nil iff its class is in the request (Agent, BGP, Routes). Each family of each
// section degrades alone: a failed step of one family adds an issue to the section and leaves the other
// family's data intact.
//
// # Agent (birdV4 from Snapshot.V4, birdV6 from Snapshot.V6)
//
//	BIRD `show status`                   contract
//	-----------------------------------  ------------------------------------------------------
//	"Daemon is up and running"           state Ready
//	anything else, or StatusErr          state NotReady (StatusErr also: issue, see Issues)
//	version ("1.6.8", "2.0.12",          version, exactly as the daemon prints it (Calico's BIRD
//	"v0.3.3+birdv1.6.8", ...)            fork: "v0.3.3+birdv1.6.8", as Calico reports it; upstream
//	                                     BIRD: "1.6.8", "2.0.12"). Any string is accepted, also an
//	                                     empty one; see VersionUnrecognized under Issues.
//	router ID                            routerID
//	boot time / last reconfiguration     lastBootTime / lastReconfigurationTime, as printed
//	                                     (seconds precision for both versions: the parsers drop
//	                                     BIRD 2's milliseconds)
//	no status and no error, or           birdVx omitted, no issue: the agent was not configured to
//	bird.ErrNoSocket                     read this family (no bird6.ctl on an IPv4-only node). The
//	                                     same holds for the BGP and Routes sections.
//
// # BGP (peersV4 from V4.Protocols, peersV6 from V6.Protocols; protocols of kind BGP only)
//
//	BIRD `show protocols all`            contract
//	-----------------------------------  ------------------------------------------------------
//	name Mesh_*                          type NodeMesh
//	name Node_* (also Calico's           type NodePeer
//	Node_<ip>_port_<port>)
//	name Global_*                        type GlobalPeer
//	any other BGP protocol name          type omitted; the peer is listed and counted. It is a
//	                                     real session (custom BIRD templates add such); hiding it
//	                                     would hide a down session from the operator.
//	Neighbor address (zone)              peerIP without zone; the zone, or BIRD's neighbor
//	                                     interface for a link-local address, in zone. The port is
//	                                     not in the contract and is not reported.
//	since column                         since
//	name                                 protocol
//	Neighbor AS                          neighborAS
//	Hold timer (negotiated)              holdTimeSeconds
//	Routes: N imported, M exported       routesImported, routesExported
//	BGP state (see below)                state, info
//
// The counts numberEstablishedVx / numberNotEstablishedVx count the listed peers of the family whose
// state is / is not Established. Peers are sorted by peer IP (netip.Addr order: IPv4 before IPv6,
// numeric), then zone, then protocol name.
//
// # BGP state
//
// The state word is BIRD's "BGP state:" line; when absent, the first word of the info column (BIRD
// prints it from the same function); when absent too, the protocol state. BIRD 1.6 and 2.x print the
// same words (bgp_state_dsc in proto/bgp/bgp.c).
//
//	BIRD word                      state        info
//	-----------------------------  -----------  ------------------------------------------------------
//	Established                    Established  "" (a stale "Last error" of an earlier session dropped)
//	Idle, Connect, Active,         same word    the last error / rest of the info column, e.g.
//	OpenSent, OpenConfirm, Close                "Socket: Connection refused"; "" when none
//	Passive                        Active       "Passive" or "Passive (<last error>)": BIRD waits for
//	                                            the peer to connect; RFC 4271 8.2.2 calls a speaker that
//	                                            listens for its peer (passive TCP establishment) Active.
//	Down (protocol down: disabled  Idle         "Down (disabled)" when no error is recorded (BIRD's
//	or shut down after an error)                manual shutdown: `disabled` in the config, birdc
//	                                            disable), else "Down (<error>)", e.g. "Down (Error:
//	                                            Hold timer expired)". RFC 4271 Idle refuses all
//	                                            connections, which a down protocol does.
//	Start                          Connect      "Start": not a BGP state BIRD prints, but the protocol
//	                                            state "start" means the session is being set up; RFC
//	                                            4271's Start event moves Idle to Connect.
//	(no BGP word) protocol state:
//	  up, feed                     Established  ""
//	  start                        Connect      "Start"
//	  stop                         Close        last error if any
//	  down, flush                  Idle         as Down
//	any other word                 "" unknown   the word (and the error), so nothing BIRD said is lost
//
// Words are compared case-insensitively. An operator reads: Established is up; Active/Connect with a
// socket error is a peer that does not answer; Active with "Passive" is a peer expected to call us; Idle
// with "Down (disabled)" is switched off on purpose (InfoDisabled).
//
// # A peer BIRD keeps retrying
//
// Build maps one snapshot as BIRD prints it; Desired smooths it against the status last written. A session nobody answers (a node that is down, a
// port nobody listens on; Calico's template retries every 5 s, `connect retry time 5`) is printed in a
// different state almost every time it is read: BIRD 1.6 and 2.0 move it between Connect (TCP connect
// under way), Active (waiting for the retry timer) and Idle, through OpenSent when a TCP connection is
// accepted and then dropped, with the same "Last error" (e.g. "Socket: Connection refused", "Socket: No
// route to host"); some builds also move since with each attempt. The status does not follow that cycle:
// Desired (retrying.go, keepRetryingPeers) compares each collection with the status it last wrote,
// and for a peer that was and still is retrying (a known state other than Established, Info not
// InfoDisabled):
//
//	collected                            status
//	-----------------------------------  ------------------------------------------------------
//	same info (the same last error)      unchanged: the state, since and info written when the
//	                                     peer was first seen down with this error; no write
//	other info (the error changed)       written: the state BIRD prints now and the new info;
//	                                     since stays the written one
//	Established, InfoDisabled, peer      written as collected (BIRD's state and since)
//	removed or added, unknown state
//
// So since is when the peer stopped being Established or was first seen down (BIRD's since in the
// collection that first showed it down), not when BIRD last retried, and state is one BIRD really
// printed for it (Connect, Active, Idle, OpenSent, OpenConfirm or Close), kept until the error changes
// or the peer comes up, is disabled or removed. The counts never depend on it (not established either
// way). Metrics (bgp_peer_state) show every collection as BIRD printed it.
//
// # Routes (routesV4 from V4.Routes, routesV6 from V6.Routes)
//
//	BIRD `show route all`                contract
//	-----------------------------------  ------------------------------------------------------
//	selected ('*', exported to kernel)   type FIB (RIB when BIRD marks the kernel refused it: '!')
//	other entries for the prefix         type RIB
//	prefix                               destination (netip.Prefix string)
//	first next hop's gateway             gateway; "N/A" when none (dev route, blackhole, ...)
//	first next hop's interface           interface
//	blackhole / unreachable / prohibit   interface "blackhole" / "unreachable" / "prohibit",
//	                                     gateway "N/A", no next hops
//	more than one next hop (multipath)   nextHops: every next hop (at most 64, the CRD cap),
//	                                     gateway "N/A" for a hop without one, weight when printed
//	route's protocol, looked up by name  learnedFrom.sourceType by the protocol's kind:
//	in the family's protocols, then in     Kernel -> Kernel, Static -> Static,
//	the other family's (a BIRD 2           Direct, Device -> Direct,
//	session to an IPv4 neighbor may        BGP Mesh_* -> NodeMesh,
//	carry IPv6 routes)                     BGP Node_*, Global_*, other names -> BGPPeer
//	                                       (an explicitly configured peer, whatever its name);
//	                                     any other kind (Pipe, OSPF, RIP, Babel, ...): sourceType
//	                                     omitted, the route still listed.
//	                                     When the protocols could not be read, the name decides as
//	                                     in Calico: kernel*, static*, direct*/device*, Mesh_*,
//	                                     Node_*/Global_*; other names: sourceType omitted.
//	"from" address, else the BGP         learnedFrom.peerIP for NodeMesh and BGPPeer, without zone
//	protocol's neighbor                  (BIRD omits "from" when it equals the gateway)
//
// Routes are sorted by destination address, prefix length, FIB before RIB, protocol name, gateway,
// then every other field that shows, so the order is total.
//
// totalV4/totalV6 are always the number of routes of the family the daemon holds (DaemonSnapshot.
// TotalRoutes: the counts of a selecting collection, else every route of the snapshot). Each list is capped at
// Options.MaxRoutesPerFamily routes and Options.MaxRouteBytesPerFamily bytes of JSON: the routes kept
// are the FIB routes in route order, then the RIB routes in route order, until a cap is reached; they
// are listed in route order. A cut list sets truncated and adds an issue RoutesTruncated.
//
// # Issues (each section's issues, at most 8, IPv4's before IPv6's)
//
//	snapshot                               issue
//	-------------------------------------  ------------------------------------------------------
//	StatusErr (Agent), ProtocolsErr (BGP),  Reason DaemonUnreachable for errors that mean no answer
//	RoutesErr (Routes)                      (socket absent or refused, connection reset or closed,
//	                                        bird.ErrTruncated: reply cut off by the daemon going away,
//	                                        EOF, deadline), or an error whose Unreachable() says so;
//	                                        else CollectionFailed (BIRD error reply, reply too large,
//	                                        malformed framing, parse error). Message: the error, which
//	                                        names the command.
//	ProtocolsErr with routes (Routes)       as above; the routes' sources were inferred from names
//	Warnings (skipped lines)                one PartialParse per family and section: the count and
//	                                        the first skipped line (command, number, text, error).
//	                                        show status -> Agent, show protocols -> BGP,
//	                                        show route -> Routes, other commands -> every section.
//	a capped route list                     RoutesTruncated with kept and total counts
//	DialectNote (a daemon whose version     VersionUnrecognized, in the first section requested
//	cannot be read: neither "X.Y..." nor    (Agent, else BGP, else Routes): one per family, or one
//	"...+birdvX..." with X >= 1)            without a family when one BIRD 2 daemon served both.
//	                                        Message: the version, the socket and the dialect assumed
//	                                        with why (BIRD 1.x on the IPv6 socket; else the heading
//	                                        of `show protocols`, "name" 1.x / "Name" 2.x; else a
//	                                        bird6.ctl beside the socket: 1.x; else 2.x). Ready stays
//	                                        True with this reason when it is the only issue (the
//	                                        sections are complete in the assumed dialect).
//
// Messages are valid UTF-8 of at most 1024 bytes (the CRD's limit). Every string from BIRD arrives
// clean from package bird (valid UTF-8, control characters escaped).
//
// # Size
//
// Every string is cut to the CRD's bound (64 for names, addresses, interfaces and times; 1024 for info
// and messages) and every list to its cap, so the API server never refuses a status for its schema.
// Options.MaxStatusBytes (1 MiB) bounds the JSON of all sections together: past it, the peer lists are
// kept before the route lists, the two families share what is left, sessions not established and FIB
// routes come first, and each list cut says so (peersTruncated / truncated and an issue naming the
// budget); counts and totals stay complete.
//
// # BIRD 1.6 and 2.x
//
// Nothing version-specific is read here: no table names, no time formats (the parsers normalise
// times), kinds and state words compared case-insensitively, link-local zones taken from the address
// or the session interface alike. The same lab state therefore maps to the same peers and routes; only
// the version string and the times differ.
package status
