package v3

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Objects made for every node: `calico-node-status enable` creates one per node, and the agent with
// --ensure-own-object creates its own node's when the node has none. Both label them so `disable`
// deletes exactly those and never an object someone wrote by hand.
const (
	// LabelManaged marks an object made per node by the CLI or the agent (value "true").
	LabelManaged = "projectcalico.org/calico-node-status-managed"
	// AnnotationCreatedBy says who made a managed object: "cli" or "agent".
	AnnotationCreatedBy = "projectcalico.org/calico-node-status-created-by"
	// ManagedPeriodSeconds is the update period of a managed object unless the CLI is told otherwise: the
	// agent writes only on change, so the period bounds how late a change shows, not the write rate.
	ManagedPeriodSeconds int32 = 30
)

// ManagedClasses are the classes of a managed object unless the CLI is told otherwise: the daemon and the
// sessions; routes are left out (large, and not what a cluster-wide view needs).
func ManagedClasses() []NodeStatusClassType {
	return []NodeStatusClassType{NodeStatusClassTypeAgent, NodeStatusClassTypeBGP}
}

// ManagedObjectName is the name of the managed object of a node: "cns-<node>", or for a node name too long
// for that, its first 232 characters (without a trailing dot or dash), a dash and 16 hex digits of the name's SHA-256 (names stay unique
// and within the 253 characters of a DNS subdomain).
func ManagedObjectName(node string) string {
	const prefix, max = "cns-", 253
	if len(prefix)+len(node) <= max {
		return prefix + node
	}
	sum := sha256.Sum256([]byte(node))
	// The cut must not end in a dot or dash: "x.-..." is not a DNS subdomain.
	cut := strings.TrimRight(node[:max-len(prefix)-17], ".-")
	return prefix + cut + "-" + hex.EncodeToString(sum[:8])
}
