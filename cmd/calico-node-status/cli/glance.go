package cli

import (
	"github.com/spf13/cobra"
)

// addGlanceCommands adds the cluster-wide views and the per-node object management (issue 14): peers,
// mesh, enable and disable.
func addGlanceCommands(cmd *cobra.Command, r *root) {
	cmd.AddCommand(newPeersCommand(r), newMeshCommand(r), newEnableCommand(r), newDisableCommand(r))
}
