package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/calico-node-status/calico-node-status/internal/printer"
)

// viewPrintFlags are cli-runtime's print flags for the CLI's computed views: -o json|yaml and the
// templates (jsonpath, go-template); "wide" and the default table are handled by the command, and "name"
// is left out (a session has no object name).
func viewPrintFlags() *genericclioptions.PrintFlags {
	out := ""
	return &genericclioptions.PrintFlags{
		OutputFormat:         &out,
		JSONYamlPrintFlags:   genericclioptions.NewJSONYamlPrintFlags(),
		TemplatePrinterFlags: genericclioptions.NewKubeTemplatePrintFlags(),
	}
}

// viewPrinter returns the printer for -o, or nil for the table ("" or "wide").
func viewPrinter(pf *genericclioptions.PrintFlags) (printers.ResourcePrinter, error) {
	switch *pf.OutputFormat {
	case "", "wide":
		if pf.TemplatePrinterFlags == nil || pf.TemplatePrinterFlags.TemplateArgument == nil || *pf.TemplatePrinterFlags.TemplateArgument == "" {
			return nil, nil
		}
	}
	p, err := pf.ToPrinter()
	if err != nil {
		return nil, fmt.Errorf("-o %s: %w (or wide)", *pf.OutputFormat, err)
	}
	return p, nil
}

type peersOptions struct {
	*root
	print  *genericclioptions.PrintFlags
	nodes  []string
	states []string
	types  []string
}

func newPeersCommand(r *root) *cobra.Command {
	o := &peersOptions{root: r, print: viewPrintFlags()}
	cmd := &cobra.Command{
		Use:   "peers [--node NODE] [--state STATE] [--type TYPE] [-o wide|json|yaml]",
		Short: "Every node's BGP sessions in one table",
		Long: `List the BGP sessions of every node, as each node's agent last reported them in a CalicoNodeStatus that
asks for the BGP class (one object per node is used: a fresh one first, then the most recent). Columns:
node, peer, type, state, since, the peer's AS, prefixes imported/exported and BIRD's reason for a session
that is not Established; -o wide adds the family, BIRD protocol, hold time, flap history, the object and
its freshness. Nodes whose status is stale or not written yet are named on stderr.

Filters: --node, --state (Idle, Connect, Active, OpenSent, OpenConfirm, Established, Close, Unknown, or
NotEstablished for every state but Established) and --type (NodeMesh, NodePeer, GlobalPeer); each may be
repeated or comma-separated.`,
		Example: fmt.Sprintf(`  # Every session of the cluster, and only those that are down
  %[1]s peers
  %[1]s peers --state NotEstablished -o wide

  # The mesh sessions of two nodes, as JSON
  %[1]s peers --type NodeMesh --node worker-1,worker-2 -o json`, r.DisplayName),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	cmd.Flags().StringSliceVar(&o.nodes, "node", nil, "only these nodes")
	cmd.Flags().StringSliceVar(&o.states, "state", nil, "only sessions in these states (NotEstablished: all but Established)")
	cmd.Flags().StringSliceVar(&o.types, "type", nil, "only these peer types: NodeMesh, NodePeer, GlobalPeer")
	o.print.AddFlags(cmd)
	cmd.Flag("output").Usage = "output format: wide, json, yaml, jsonpath=..., go-template=... (default: a table)"
	return cmd
}

func (o *peersOptions) run(ctx context.Context) error {
	filter := printer.PeerFilter{Nodes: o.nodes, States: o.states, Types: o.types}
	if err := printer.ValidatePeerFilter(filter); err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	p, err := viewPrinter(o.print)
	if err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	l, err := c.List(ctx, metav1.ListOptions{})
	if err != nil {
		return o.explainAPI(ctx, apiError("list CalicoNodeStatus", err))
	}
	reports := printer.LatestReports(l.Items, o.Now(), o.agentPods(true))
	o.noteReports(reports, filter)
	rows := printer.PeerRows(reports, filter)
	if p != nil {
		return printer.PrintView(o.Streams.Out, p, *o.print.OutputFormat, printer.NewPeerList(rows))
	}
	if len(rows) == 0 {
		fmt.Fprintln(o.Streams.ErrOut, "No BGP sessions found.")
		return nil
	}
	return printer.PrintTable(o.Streams.Out, printer.PeerTable(rows), *o.print.OutputFormat == "wide")
}

// noteReports says on stderr which nodes' sessions are missing or may be out of date, so a table that
// looks complete never hides a node whose agent is silent.
func (o *peersOptions) noteReports(reports []printer.NodeReport, f printer.PeerFilter) {
	if len(reports) == 0 {
		fmt.Fprintf(o.Streams.ErrOut, "No CalicoNodeStatus asks for the BGP class. Create one per node with: %s enable --all-nodes\n", o.DisplayName)
		return
	}
	for _, r := range reports {
		if len(f.Nodes) > 0 && !containsString(f.Nodes, r.Node) {
			continue
		}
		switch {
		case r.Assessment.Waiting:
			fmt.Fprintf(o.Streams.ErrOut, "node %s: no status yet in %s (waiting for the agent on the node)\n", printer.Escape(r.Node), printer.Escape(r.Object))
		case r.BGP == nil:
			fmt.Fprintf(o.Streams.ErrOut, "node %s: %s has no BGP section\n", printer.Escape(r.Node), printer.Escape(r.Object))
		case len(r.Assessment.Stale) > 0:
			fmt.Fprintf(o.Streams.ErrOut, "node %s: %s is STALE: %s\n", printer.Escape(r.Node), printer.Escape(r.Object), printer.Escape(strings.Join(r.Assessment.Stale, "; ")))
		case len(r.Assessment.Unknown) > 0:
			fmt.Fprintf(o.Streams.ErrOut, "node %s: %s: %s\n", printer.Escape(r.Node), printer.Escape(r.Object), printer.Escape(strings.Join(r.Assessment.Unknown, "; ")))
		}
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
