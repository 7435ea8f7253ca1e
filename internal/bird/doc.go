// Package bird reads a BIRD routing daemon (1.6 or 2.x) over its control socket: transport (Unix socket
// with deadlines and a reply-size cap), framing of BIRD's numbered reply lines, an allowlist of read-only
// commands, and one parser per command and major version into a typed Snapshot. It knows nothing of
// Kubernetes.
//
// Layers, bottom up:
//
//   - conn.go: Dial reads the greeting ("0001 BIRD 1.6.8 ready.", which gives the version; Calico's fork
//     greets "BIRD v0.3.3+birdv1.6.8", the BIRD it is built on after "+bird"; any version is accepted,
//     one that cannot be read leaves the dialect to the Collector), Conn.Run
//     sends one command and streams its reply; context deadlines and cancellation interrupt blocked I/O.
//     One Conn serves commands one after the other; after a transport error it is unusable.
//   - framing.go: splits the stream into lines ("DDDD-text", " text", "DDDD text") without copying,
//     enforces the reply cap and a line cap, turns 8xxx/9xxx codes into *ReplyError, and treats a reply
//     without its final line as ErrTruncated.
//   - allowlist.go: CheckCommand lets through `show status|protocols [all] [name]|route ...|interfaces|
//     memory` only; anything else is a *RefusedError before the socket is touched.
//   - parse_status.go, parse_protocols.go, parse_routes.go: line-at-a-time parsers fed by the framing, so a
//     100k-route reply is never held as one string. A line they cannot read becomes a Warning; the rest
//     of the reply survives.
//   - collector.go: Collector.Collect, what the agent calls: BIRD 1.6's bird.ctl and bird6.ctl read
//     concurrently, or one BIRD 2 daemon split into both families; every section carries its own error.
//     Per family, fallback sockets are tried in order at each collection (calico-node's
//     /var/run/calico then /var/run/bird). A daemon whose version cannot be read is read in a dialect
//     decided from its reply shape or the socket layout, said in DaemonSnapshot.DialectNote.
//   - select.go: with Collector.MaxRoutes, routes are streamed into a RouteSelection (per family, the
//     routes a status capped at MaxRoutes can list, plus totals) instead of being held: memory does not
//     grow with the table, so a full Internet table fits a small container.
//   - sanitize.go: every string handed out (snapshot, warnings, errors) is valid UTF-8 without control
//     characters (escaped), cleaned once here for the status, metric labels, Events and logs.
//   - recover.go: a parser that panics fails its section with a *PanicError; Collect never panics.
//
// Tests: captured replies of real BIRD 1.6.8, 2.0.12 and Calico's fork (testdata/captures from the lab,
// testdata/minilab), compared with birdc's view of the same moment; fuzz targets seeded from them; fault
// tests against a fake daemon; and, as root, real daemons (collector_realbird_test.go, realbird_test.go).
package bird
