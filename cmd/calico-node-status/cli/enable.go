package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

// nodeChoice is how enable and disable are told which nodes: names, --all-nodes or --selector.
type nodeChoice struct {
	all      bool
	selector string
}

func (n *nodeChoice) addFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&n.all, "all-nodes", false, "every node")
	cmd.Flags().StringVarP(&n.selector, "selector", "l", "", "the nodes with these labels (a label selector on the Node list)")
}

// check says whether exactly one way of choosing nodes was given, before anything is contacted.
func (n *nodeChoice) check(cmd string, names []string) (labels.Selector, error) {
	ways := 0
	for _, given := range []bool{n.all, n.selector != "", len(names) > 0} {
		if given {
			ways++
		}
	}
	if ways != 1 {
		return nil, fmt.Errorf("%s: name the nodes, or give --all-nodes or --selector (exactly one of them)", cmd)
	}
	sel, err := labels.Parse(n.selector)
	if err != nil {
		return nil, fmt.Errorf("%s: --selector: %w", cmd, err)
	}
	return sel, nil
}

// nodes returns the chosen node names: the names given (which must exist as Nodes), or the Node list.
func (n *nodeChoice) nodes(ctx context.Context, c corev1client.NodeInterface, names []string, sel labels.Selector) ([]string, error) {
	if len(names) > 0 {
		for _, name := range names {
			if _, err := c.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return nil, apiError(fmt.Sprintf("get node %q", name), err)
			}
		}
		return names, nil
	}
	l, err := c.List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, apiError("list nodes", err)
	}
	out := make([]string, 0, len(l.Items))
	for _, item := range l.Items {
		out = append(out, item.Name)
	}
	slices.Sort(out)
	return out, nil
}

func newEnableCommand(r *root) *cobra.Command {
	var (
		choice  nodeChoice
		classes []string
		period  int32
	)
	cmd := &cobra.Command{
		Use:   "enable (NODE... | --all-nodes | --selector LABELS) [--classes Agent,BGP] [--period SECONDS]",
		Short: "Create one CalicoNodeStatus per node, labelled so that disable removes exactly those",
		Long: fmt.Sprintf(`Create a CalicoNodeStatus for each chosen node, named cns-<node> and labelled %s=true, so that
peers and mesh see every node. A node that already has its cns-<node> object is left as it is. Nodes
added later are not covered by this command: run it again, or run the agents with --ensure-own-object,
which makes each agent create its own node's object when the node has none.`, v3.LabelManaged),
		Example: fmt.Sprintf(`  %[1]s enable --all-nodes
  %[1]s enable --selector node-role.kubernetes.io/worker= --classes Agent,BGP,Routes --period 60
  %[1]s enable worker-1 worker-2`, r.DisplayName),
		RunE: func(cmd *cobra.Command, args []string) error {
			sel, err := choice.check("enable", args)
			if err != nil {
				return err
			}
			c, nodeClient, err := r.coreClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			nodes, err := choice.nodes(ctx, nodeClient, args, sel)
			if err != nil {
				return err
			}
			if len(nodes) == 0 {
				fmt.Fprintln(r.Streams.ErrOut, "No nodes matched.")
				return nil
			}
			var created, kept int
			for _, node := range nodes {
				obj := &v3.CalicoNodeStatus{
					ObjectMeta: metav1.ObjectMeta{Name: v3.ManagedObjectName(node),
						Labels:      map[string]string{v3.LabelManaged: "true"},
						Annotations: map[string]string{v3.AnnotationCreatedBy: "cli"}},
					Spec: v3.CalicoNodeStatusSpec{Node: node, UpdatePeriodSeconds: &period},
				}
				for _, cl := range classes {
					obj.Spec.Classes = append(obj.Spec.Classes, v3.NodeStatusClassType(cl))
				}
				_, err := c.Create(ctx, obj, metav1.CreateOptions{})
				switch {
				case err == nil:
					created++
					fmt.Fprintf(r.Streams.Out, "caliconodestatus.projectcalico.org/%s created (node %s)\n", printer.Escape(obj.Name), printer.Escape(node))
				case apierrors.IsAlreadyExists(err):
					kept++
					fmt.Fprintf(r.Streams.Out, "caliconodestatus.projectcalico.org/%s unchanged (exists)\n", printer.Escape(obj.Name))
				default:
					return r.explainAPI(ctx, apiError(fmt.Sprintf("create CalicoNodeStatus %q for node %s (%d created before it)", obj.Name, node, created), err))
				}
			}
			fmt.Fprintf(r.Streams.ErrOut, "%d node(s): %d created, %d already had one. See them with: %s peers, %s mesh\n", len(nodes), created, kept, r.DisplayName, r.DisplayName)
			return nil
		},
	}
	choice.addFlags(cmd)
	cmd.Flags().StringSliceVar(&classes, "classes", classNames(v3.ManagedClasses()), "what to report: Agent, BGP, Routes")
	cmd.Flags().Int32Var(&period, "period", v3.ManagedPeriodSeconds, "seconds between reports, 0 to 86400 (the agent writes only on change)")
	return cmd
}

func newDisableCommand(r *root) *cobra.Command {
	var choice nodeChoice
	cmd := &cobra.Command{
		Use:   "disable (NODE... | --all-nodes | --selector LABELS)",
		Short: "Delete the per-node objects that enable (or an agent with --ensure-own-object) created",
		Long: fmt.Sprintf(`Delete the CalicoNodeStatus objects labelled %s=true of the chosen nodes; objects without the label
(created by hand or by other tools) are never deleted. An agent running with --ensure-own-object creates
its node's object again when it restarts.`, v3.LabelManaged),
		RunE: func(cmd *cobra.Command, args []string) error {
			sel, err := choice.check("disable", args)
			if err != nil {
				return err
			}
			c, nodeClient, err := r.coreClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			l, err := c.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{v3.LabelManaged: "true"}).String()})
			if err != nil {
				return r.explainAPI(ctx, apiError("list CalicoNodeStatus", err))
			}
			var only map[string]bool
			if !choice.all {
				nodes, err := choice.nodesForDisable(ctx, nodeClient, args, sel)
				if err != nil {
					return err
				}
				only = map[string]bool{}
				for _, n := range nodes {
					only[n] = true
				}
			}
			deleted := 0
			for i := range l.Items {
				o := &l.Items[i]
				if only != nil && !only[o.Spec.Node] {
					continue
				}
				// Only what is still labelled and unchanged since the list: never a lookalike made meanwhile.
				err := c.Delete(ctx, o.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &o.UID}})
				if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
					return apiError(fmt.Sprintf("delete CalicoNodeStatus %q (%d deleted before it)", o.Name, deleted), err)
				}
				if err == nil {
					deleted++
					fmt.Fprintf(r.Streams.Out, "caliconodestatus.projectcalico.org/%s deleted (node %s)\n", printer.Escape(o.Name), printer.Escape(o.Spec.Node))
				}
			}
			fmt.Fprintf(r.Streams.ErrOut, "%d managed object(s) deleted.\n", deleted)
			return nil
		},
	}
	choice.addFlags(cmd)
	return cmd
}

// nodesForDisable is nodes, except that named nodes need not exist any more: their objects are
// still deleted (a node gone from the cluster is the commonest reason to disable it).
func (n *nodeChoice) nodesForDisable(ctx context.Context, c corev1client.NodeInterface, names []string, sel labels.Selector) ([]string, error) {
	if len(names) > 0 {
		return names, nil
	}
	nodes, err := n.nodes(ctx, c, nil, sel)
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, errors.New("disable: no node matches --selector")
	}
	return nodes, nil
}

func classNames(cs []v3.NodeStatusClassType) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}
