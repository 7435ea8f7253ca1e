// Command calico-node-status shows CalicoNodeStatus objects like `calicoctl node status` and creates
// them. Named kubectl-calico_node_status it is a kubectl plugin: `kubectl calico-node-status ...`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/calico-node-status/calico-node-status/cmd/calico-node-status/cli"
	"github.com/calico-node-status/calico-node-status/internal/printer"
	"github.com/calico-node-status/calico-node-status/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cmd := cli.NewRootCommand(cli.Options{
		Streams:     genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr},
		DisplayName: cli.DisplayName(os.Args[0]),
	})
	// --version prints "calico-node-status v1.2.3 (commit ..., go1.26)" (the build's ldflags).
	cmd.Version = version.Get().String()
	cmd.SetVersionTemplate(cli.Name + " {{.Version}}\n")
	err := cmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		// The message may quote what the API server or an object holds: print it escaped.
		fmt.Fprintf(os.Stderr, "error: %s\n", printer.EscapeText(err.Error()))
		os.Exit(cli.ExitCode(err)) // 1, or a command's own code (mesh: 2 broken, 3 unverified)
	}
}
