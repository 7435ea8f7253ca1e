package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/calico-node-status/calico-node-status/internal/mesh"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

// Exit codes of `mesh` (main exits with an ExitError's code).
const (
	// ExitMeshBroken: at least one expected session is broken.
	ExitMeshBroken = 2
	// ExitMeshUnverified: nothing broken was seen, but some node has no BGP status or a stale one, or a
	// session's other end could not be asked.
	ExitMeshUnverified = 3
)

// ExitError is an error that asks main for a particular exit code; the command has printed its result.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the process exit code for a command's error: an ExitError's own, 1 for any other, 0 for nil.
func ExitCode(err error) int {
	var ee *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	}
	return 1
}

type meshOptions struct {
	*root
	print        *genericclioptions.PrintFlags
	nodeSelector string
	matrix       string
	kinds        []string
}

func newMeshCommand(r *root) *cobra.Command {
	o := &meshOptions{root: r, print: viewPrintFlags()}
	cmd := &cobra.Command{
		Use:   "mesh [--node-selector LABELS] [--matrix auto|always|never|N] [-o json|yaml]",
		Short: "Compare the sessions the cluster should have with what each end reports",
		Long: fmt.Sprintf(`Check the BGP sessions of the whole cluster from both ends. Expected sessions: every pair of nodes
of the node-to-node mesh (per family, when any node reports mesh sessions), and the explicit peers
(NodePeer, GlobalPeer) each node reports. Each node's addresses come from its Node object (InternalIP,
Calico's projectcalico.org/IPv4Address and IPv6Address annotations) and its BIRD router ID.

Verdicts: Up (both ends Established), Down (both list it, neither Established), OneSided (one end
Established, the other does not list it or says otherwise), MissingOnOneSide (one end lists it, not
Established, the other does not list it), MissingOnBoth (an expected mesh session neither end lists),
Unknown (an end has no status and the other shows no fault). External peers are judged by their one end.

The matrix (clusters of at most %d nodes unless --matrix says otherwise) shows what each row's node
reports about each column's node; the broken sessions follow with what each end says.

Exit status: 0 nothing broken and every node reported a fresh status; %d something is broken; %d nothing
broken seen, but some node has no status or a stale one; 1 the command failed.`, printer.DefaultMatrixMaxNodes, ExitMeshBroken, ExitMeshUnverified),
		Example: fmt.Sprintf(`  # Once per node, then check the mesh
  %[1]s enable --all-nodes
  %[1]s mesh

  # In a script or CI job
  %[1]s mesh -o json > mesh.json || echo "mesh broken or unverified: exit $?"`, r.DisplayName),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	cmd.Flags().StringVarP(&o.nodeSelector, "node-selector", "l", "", "only the nodes with these labels (a label selector on the Node list)")
	cmd.Flags().StringSliceVar(&o.kinds, "kind", nil, "only these kinds of session: NodeMesh, NodePair (explicit peers between nodes), External (peers that are not nodes); default all")
	cmd.Flags().StringVar(&o.matrix, "matrix", "auto", fmt.Sprintf("draw the mesh matrix: auto (at most %d nodes), always, never, or up to N nodes", printer.DefaultMatrixMaxNodes))
	o.print.AddFlags(cmd)
	cmd.Flag("output").Usage = "output format: json, yaml, jsonpath=..., go-template=... (default: summary, matrix and broken sessions)"
	return cmd
}

func (o *meshOptions) run(ctx context.Context) error {
	matrixMax, err := printer.MatrixMaxFlag(o.matrix)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	sel, err := labels.Parse(o.nodeSelector)
	if err != nil {
		return fmt.Errorf("mesh: --node-selector: %w", err)
	}
	kinds, err := meshKinds(o.kinds)
	if err != nil {
		return err
	}
	if *o.print.OutputFormat == "wide" {
		return errors.New("mesh: -o wide: the mesh view has no wide form; use -o json or yaml for every detail")
	}
	p, err := viewPrinter(o.print)
	if err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	c, nodeClient, err := o.coreClient()
	if err != nil {
		return err
	}
	l, err := c.List(ctx, metav1.ListOptions{})
	if err != nil {
		return o.explainAPI(ctx, apiError("list CalicoNodeStatus", err))
	}
	nodes, err := nodeClient.List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		if !apierrors.IsForbidden(err) || !sel.Empty() {
			return apiError("list nodes", err)
		}
		// Without the Node list, only router IDs tell the nodes' addresses (IPv4 only, usually).
		fmt.Fprintf(o.Streams.ErrOut, "warning: cannot list nodes (%v); node addresses come from BIRD router IDs only\n", err)
		nodes = &corev1.NodeList{}
	}
	reports := printer.LatestReports(l.Items, o.Now(), o.agentPods(true))
	if !sel.Empty() {
		keep := map[string]bool{}
		for _, n := range nodes.Items {
			keep[n.Name] = true
		}
		var kept []printer.NodeReport
		for _, r := range reports {
			if keep[r.Node] {
				kept = append(kept, r)
			}
		}
		reports = kept
	}
	res := mesh.Analyze(printer.MeshNodes(reports, nodes.Items))
	if kinds != nil {
		res.Pairs = slices.DeleteFunc(res.Pairs, func(p mesh.Pair) bool { return !kinds[p.Kind] })
	}
	if p != nil {
		err = printer.PrintView(o.Streams.Out, p, *o.print.OutputFormat, printer.NewMeshReport(res))
	} else {
		err = printer.MeshText(o.Streams.Out, res, matrixMax)
	}
	if err != nil {
		return err
	}
	return meshExitFresh(res, reports, o.Streams.ErrOut)
}

// meshKinds parses --kind (nil: every kind).
func meshKinds(words []string) (map[mesh.Kind]bool, error) {
	if len(words) == 0 {
		return nil, nil
	}
	all := []mesh.Kind{mesh.KindMesh, mesh.KindNodePair, mesh.KindExternal}
	out := map[mesh.Kind]bool{}
	for _, w := range words {
		i := slices.IndexFunc(all, func(k mesh.Kind) bool { return strings.EqualFold(string(k), w) })
		if i < 0 {
			return nil, fmt.Errorf("mesh: --kind %q: want NodeMesh, NodePair or External", w)
		}
		out[all[i]] = true
	}
	return out, nil
}

// meshExit turns the result into the command's exit status.
func meshExit(res mesh.Result) error {
	if broken := res.Broken(); len(broken) > 0 {
		return &ExitError{Code: ExitMeshBroken, Err: fmt.Errorf("mesh: %d broken session(s)", len(broken))}
	}
	unknown := res.Counts()[mesh.Unknown]
	if len(res.NoReport) > 0 || len(res.Stale) > 0 || unknown > 0 {
		return &ExitError{Code: ExitMeshUnverified, Err: fmt.Errorf("mesh: nothing broken seen, but not verified: %d node(s) without a BGP status, %d stale, %d session(s) with an end unknown",
			len(res.NoReport), len(res.Stale), unknown)}
	}
	return nil
}
