// Package printer renders CalicoNodeStatus objects for people: a view like `calicoctl node status`
// (header with freshness and readiness, a daemon line per address family, peer and route tables, section
// issues) and the objects themselves as YAML or JSON. It is pure: objects and the current time in, text
// out; no client, no clock, so every view is testable on fixed objects.
//
// A status is never shown as fresh when it is not: it is STALE when it was collected for an older spec
// (status.observedGeneration behind metadata.generation) or when status.lastUpdated is older than the
// agent's heartbeat allows (see StaleAfter), WAITING when the agent has written nothing yet, and NOT READY
// when its Ready condition is False.
package printer
