package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

func newCreateCommand(r *root) *cobra.Command {
	var (
		node    string
		classes []string
		period  int32
	)
	cmd := &cobra.Command{
		Use:   "create NAME --node NODE [--classes Agent,BGP,Routes] [--period SECONDS]",
		Short: "Ask the agent on a node to report its BGP status in a new CalicoNodeStatus",
		Long: `Create a CalicoNodeStatus: the agent on --node fills its status with the requested classes
(Agent: the BGP daemons; BGP: the sessions; Routes: the routes) every --period seconds (0: once).
The API server validates the object; its refusals are shown field by field.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			obj := &v3.CalicoNodeStatus{
				ObjectMeta: metav1.ObjectMeta{Name: args[0]},
				Spec:       v3.CalicoNodeStatusSpec{Node: node, UpdatePeriodSeconds: &period},
			}
			// No checks of our own: the CRD's schema is the one authority, and its messages name the field.
			for _, c := range classes {
				obj.Spec.Classes = append(obj.Spec.Classes, v3.NodeStatusClassType(c))
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if _, err := c.Create(cmd.Context(), obj, metav1.CreateOptions{}); err != nil {
				return r.explainAPI(cmd.Context(), apiError(fmt.Sprintf("create CalicoNodeStatus %q", obj.Name), err))
			}
			fmt.Fprintf(r.Streams.Out, "caliconodestatus.projectcalico.org/%s created\n", obj.Name)
			fmt.Fprintf(r.Streams.ErrOut, "The agent on node %s reports into it; see it with: %s get %s\n", node, r.DisplayName, obj.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&node, "node", "", "the node whose agent reports (required)")
	cmd.Flags().StringSliceVar(&classes, "classes", []string{"Agent", "BGP", "Routes"}, "what to report: Agent, BGP, Routes")
	cmd.Flags().Int32Var(&period, "period", 10, "seconds between reports, 0 to 86400; 0 reports once")
	_ = cmd.MarkFlagRequired("node") // cannot fail: the flag exists
	return cmd
}
