// Package agent is the node agent's one reconciler: it keeps every CalicoNodeStatus whose spec.node is this
// node current. It watches only this node's objects (field selector on spec.node), schedules each object
// by requeueing it every updatePeriodSeconds on a grid shared by all objects of the node (so they share
// one BIRD query), computes the status from one BIRD snapshot with internal/status, and writes through
// the status subresource only when the content changed, or as a freshness heartbeat at least every
// max(updatePeriodSeconds, 5 minutes). It sets conditions and observedGeneration, records Events when a
// peer reaches or leaves Established, and exports Prometheus metrics.
//
// Pieces: Reconciler (the logic, pure but for its Store and SnapshotSource), Controller (client-go
// informer + one rate-limited workqueue, as in kubernetes/sample-controller), KubeStore and KubeEvents
// (client-go REST, no typed clientsets: the whole agent stays under 30 MB of resident memory).
//
// Beside Calico's own API (README, "Running beside Calico"): APIChecker (apicheck.go, over internal/apicheck)
// finds out at start and on 400/404/503 whether the CalicoNodeStatus API is ours, for readiness, a metric
// and the log; foreign.go leaves an object alone while another field manager writes its status.
package agent
