package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned"
	typedv3 "github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned/typed/api/v3"
)

const (
	// Name is the binary's name.
	Name = "calico-node-status"
	// PluginBinary is the file name that makes the binary a kubectl plugin: kubectl maps the command
	// `kubectl calico-node-status` to an executable kubectl-calico_node_status on PATH.
	PluginBinary = "kubectl-calico_node_status"
)

// DisplayName is how the user invoked the binary, for help and hints: "kubectl calico-node-status" when
// it runs as a kubectl plugin (argv[0] kubectl-*), Name otherwise.
func DisplayName(argv0 string) string {
	base := filepath.Base(argv0)
	if rest, ok := strings.CutPrefix(base, "kubectl-"); ok {
		return "kubectl " + strings.ReplaceAll(rest, "_", "-")
	}
	return Name
}

// Options configure the root command.
type Options struct {
	Streams genericiooptions.IOStreams
	// DisplayName is how the command is invoked (see DisplayName); Name when empty.
	DisplayName string
	// Now is the clock for ages and staleness; time.Now when nil.
	Now func() time.Time
}

type root struct {
	Options
	flags *genericclioptions.ConfigFlags
}

// NewRootCommand returns the calico-node-status command with its subcommands and the standard
// kubeconfig flags (--kubeconfig, --context, --server, --token, --request-timeout, ...).
func NewRootCommand(o Options) *cobra.Command {
	if o.DisplayName == "" {
		o.DisplayName = Name
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &root{Options: o, flags: genericclioptions.NewConfigFlags(true)}
	cmd := &cobra.Command{
		Use:   Name,
		Short: "Show and request the BGP status of Calico nodes (CalicoNodeStatus)",
		Long: fmt.Sprintf(`%[1]s shows CalicoNodeStatus objects the way "calicoctl node status" shows a node:
the BGP daemons, the IPv4 and IPv6 BGP peers and the routes, as last reported by the calico-node-status
agent on the object's node. A status that is stale (the agent's Pod is gone or not Ready, or the agent
has not written since the spec changed) or not ready is marked so, never shown as fresh.

As a kubectl plugin: copy or link the binary as %[2]s anywhere on PATH, then
  kubectl calico-node-status get ...`, o.DisplayName, PluginBinary),
		Example: fmt.Sprintf(`  # Ask the agent on node worker-1 for its status every 10 s, then watch it
  %[1]s create worker-1-status --node worker-1
  %[1]s get worker-1-status --watch

  # All objects of a node, or everything, as YAML
  %[1]s get --node worker-1
  %[1]s get -o yaml

  # After installing: is CalicoNodeStatus served by calico-node-status's CRD (and not by Calico's API)?
  %[1]s check`, o.DisplayName),
		SilenceErrors: true,
		SilenceUsage:  true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: o.DisplayName},
	}
	cmd.SetIn(o.Streams.In)
	cmd.SetOut(o.Streams.Out)
	cmd.SetErr(o.Streams.ErrOut)
	r.flags.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(newGetCommand(r), newCreateCommand(r), newCheckCommand(r))
	addGlanceCommands(cmd, r)
	return cmd
}

// restConfig is the kubeconfig flags' configuration. The API server's warnings are not shown: the
// commands report what matters themselves (as with controller-runtime's client, which they used before).
func (r *root) restConfig() (*rest.Config, error) {
	cfg, err := r.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.WarningHandler = rest.NoWarnings{}
	return cfg, nil
}

// client connects with the kubeconfig flags (the generated clientset, pkg/generated); called only after a
// command's arguments are checked.
func (r *root) client() (typedv3.CalicoNodeStatusInterface, error) {
	cfg, err := r.restConfig()
	if err != nil {
		return nil, err
	}
	return statusClient(cfg)
}

func statusClient(cfg *rest.Config) (typedv3.CalicoNodeStatusInterface, error) {
	cs, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	return cs.ProjectcalicoV3().CalicoNodeStatuses(), nil
}

// coreClient is client with client-go's typed client of Nodes too.
func (r *root) coreClient() (typedv3.CalicoNodeStatusInterface, corev1client.NodeInterface, error) {
	cfg, err := r.restConfig()
	if err != nil {
		return nil, nil, err
	}
	c, err := statusClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	return c, core.Nodes(), nil
}
