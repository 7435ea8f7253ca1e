package v3

import "time"

// Contract constants that are not a field's bound (those sit beside their kubebuilder markers in
// caliconodestatus_types.go, checked by bounds_test.go). Every other package imports these instead of
// repeating them: the agent's defaults, the CLI's staleness rule and the bench's write budget must agree.

// DefaultHeartbeat is the heartbeat of an agent that runs outside a Pod (the demo's and the lab's agent
// processes), which has no other freshness signal: it rewrites an unchanged status at least every
// max(updatePeriodSeconds, DefaultHeartbeat) and records that in status.reporter.heartbeatSeconds. An agent
// in a Pod writes no heartbeat (its Pod's readiness says whether its statuses are current) unless its
// --heartbeat asks for one. A status without reporter (an older agent) is read with this heartbeat.
const DefaultHeartbeat = 5 * time.Minute

// Default caps of the status lists (the agent's --max-* flags; the CRD's maxItems above are the ceilings).
const (
	// DefaultMaxRoutesPerFamily is the default cap on each route list. A route serialises to about 150
	// bytes of JSON (IPv4, one next hop) to 250 bytes (IPv6); 1000 routes per family are therefore
	// 150–250 KiB per family, 0.3–0.5 MiB for both, a third of etcd's default 1.5 MiB request limit,
	// leaving room for peers, metadata and managed fields. Beyond a few hundred routes a status object is
	// no longer read by humans anyway; the totals still say how many routes there are.
	DefaultMaxRoutesPerFamily = 1000
	// DefaultMaxRouteBytesPerFamily bounds the JSON size of each route list whatever the routes look
	// like: a multipath route with 64 next hops is about 4 KiB, so a count cap alone does not bound the
	// object. 256 KiB per family keeps both lists together at a third of etcd's 1.5 MiB.
	DefaultMaxRouteBytesPerFamily = 256 << 10
	// DefaultMaxPeersPerFamily bounds each peer list: a route reflector can have thousands of sessions,
	// at about 250 bytes each with the additive fields; 500 per family stays near 125 KiB.
	DefaultMaxPeersPerFamily = 500
	// DefaultMaxStatusBytes bounds the JSON size of the whole status, every list of every section
	// together: the per-family caps bound each list, this bounds their sum (peers with 1 KiB infos and
	// routes at their byte caps would otherwise reach about 1.3 MB), leaving room under etcd's default
	// 1.5 MiB request limit for metadata, managed fields and conditions.
	DefaultMaxStatusBytes = 1 << 20
)

// MinUnwrittenBound is the shortest time the agent tolerates a status it built but could not write (or an
// object whose collections stopped) before it reports itself not ready: max(2×updatePeriodSeconds, this).
// Its Pod's readiness is what readers take for the freshness of its statuses.
const MinUnwrittenBound = 60 * time.Second

// Conditions besides Ready, OtherWriter and CountsOnly (caliconodestatus_types.go).
const (
	// ConditionRefreshing is False while updatePeriodSeconds is 0: the status was collected once for the
	// current generation and is not refreshed.
	ConditionRefreshing = "Refreshing"
	// ReasonPeriodic is the Refreshing reason while the status is refreshed every period.
	ReasonPeriodic = "Periodic"
)
