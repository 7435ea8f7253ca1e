package agent

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Create creates obj, the agent's own node's object, for --ensure-own-object (package ownobject, whose
// +kubebuilder:rbac marker grants create in a role of its own, config/rbac/ensure-own-object; the agent's
// default role has no create). The node isolation policy (config/admission) refuses an object of any
// other node.
func (s *KubeStore) Create(ctx context.Context, obj *v3.CalicoNodeStatus) error {
	_, err := s.client.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldOwner})
	return err
}
