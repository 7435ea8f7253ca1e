package agent

import (
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// CacheOptions restricts the manager's cache to the CalicoNodeStatus objects of nodeName: the agent lists
// and watches with the field selector spec.node=<node> (a selectable field of the CRD), so it never holds
// or is woken by other nodes' objects.
func CacheOptions(nodeName string) cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&v3.CalicoNodeStatus{}: {Field: fields.OneTermEqualSelector("spec.node", nodeName)},
		},
	}
}
