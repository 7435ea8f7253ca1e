package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
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

// client connects with the kubeconfig flags; called only after a command's arguments are checked.
func (r *root) client() (client.WithWatch, error) {
	cfg, err := r.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := v3.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register projectcalico.org/v3 types: %w", err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	return c, nil
}
