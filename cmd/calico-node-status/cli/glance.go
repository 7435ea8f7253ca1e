package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// addGlanceCommands adds the cluster-wide views and the per-node object management (issue 14): peers,
// mesh, enable and disable.
func addGlanceCommands(cmd *cobra.Command, r *root) {
	cmd.AddCommand(newPeersCommand(r), newMeshCommand(r), newEnableCommand(r), newDisableCommand(r))
}

// glanceScheme knows CalicoNodeStatus and the core types (Node).
func glanceScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := v3.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register projectcalico.org/v3 types: %w", err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register core/v1 types: %w", err)
	}
	return scheme, nil
}
