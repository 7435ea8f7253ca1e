// Package cli is the calico-node-status command line: `get` shows CalicoNodeStatus objects the way
// `calicoctl node status` shows a node (through internal/printer), `create` asks an agent for a report.
// It is a package, not part of main, so tests run the real cobra commands in-process against a real API
// server. The same binary works as a kubectl plugin when named kubectl-calico_node_status.
package cli
