// Package printer renders CalicoNodeStatus objects for people: a view like `calicoctl node status`
// (header with freshness and readiness, a daemon line per address family, peer and route tables, section
// issues) and the objects themselves as YAML or JSON. It is pure: objects and the current time in, text
// out; no client, no clock, so every view is testable on fixed objects.
//
// A status is never shown as fresh when it is not: it is STALE when it was collected for an older spec
// (status.observedGeneration behind metadata.generation), when the agent Pod it names (status.reporter)
// is gone, replaced, on another node or not Ready (read through Pods, a function the CLI supplies), or,
// for an agent outside a Pod, when status.lastUpdated is older than the heartbeat it records allows (see
// StaleAfter). A Ready agent Pod means current however old lastUpdated is: it is the last change. A Pod
// that cannot be read makes the freshness unknown, said, never STALE. WAITING when the agent has written
// nothing yet, NOT READY when its Ready condition is False.
package printer
