// Package agent is the node agent's one reconciler: it keeps every CalicoNodeStatus whose spec.node is this
// node current. It watches only this node's objects (field selector on spec.node), schedules each object
// by requeueing it every updatePeriodSeconds on a grid shared by all objects of the node (so they share
// one BIRD query, sharedSnapshots in source.go), has internal/status compute the status (sections,
// conditions, equality), and writes through the status subresource only when the content changed. Every
// status names the agent's Pod (status.reporter, freshness.go): readers take the Pod's readiness, which
// ReadyError drives, as the sign the status is current, so no heartbeat is written; an agent outside a
// Pod writes one at least every max(updatePeriodSeconds, v3.DefaultHeartbeat). It records Events
// when a peer reaches or leaves Established, and exports Prometheus metrics from the same read and build.
// docs/architecture.md follows the data path through these files.
//
// Pieces: Reconciler (NewReconciler; the logic, pure but for its Store and SnapshotSource), Controller (client-go
// informer + one rate-limited workqueue, as in kubernetes/sample-controller), KubeStore and KubeEvents
// (client-go REST, no typed clientsets: the whole agent stays under 30 MB of resident memory).
//
// Beside Calico's own API (README, "Running beside Calico"): APIChecker (apicheck.go, over internal/apicheck)
// finds out at start and on 400/404/503 whether the CalicoNodeStatus API is ours, for readiness, a metric
// and the log; foreign.go leaves an object alone while another field manager writes its status.
package agent
