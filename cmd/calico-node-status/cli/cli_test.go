package cli_test

// Unit tier: what the commands decide before they contact an API server. The API tier (create, get,
// watch, the kubectl plugin against a real kube-apiserver) is in test/deploy.

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/calico-node-status/calico-node-status/cmd/calico-node-status/cli"
)

func run(t *testing.T, display string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := cli.NewRootCommand(cli.Options{
		Streams:     genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out},
		DisplayName: display,
	})
	// A server nobody listens on: a command that got past its argument checks fails to connect, fast.
	if args[len(args)-1] != "--help" {
		args = append(args, "--server", "https://127.0.0.1:1", "--request-timeout", "2s")
	}
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestDisplayName(t *testing.T) {
	tests := []struct{ argv0, want string }{
		{"calico-node-status", "calico-node-status"},
		{"/usr/local/bin/calico-node-status", "calico-node-status"},
		{"/home/u/.krew/bin/kubectl-calico_node_status", "kubectl calico-node-status"},
		{"kubectl-calico_node_status", "kubectl calico-node-status"},
		{"./bin/cns", "calico-node-status"},
	}
	for _, tt := range tests {
		if got := cli.DisplayName(tt.argv0); got != tt.want {
			t.Errorf("DisplayName(%q) = %q, want %q", tt.argv0, got, tt.want)
		}
	}
	if got := cli.DisplayName(cli.PluginBinary); got != "kubectl calico-node-status" {
		t.Errorf("the plugin binary %s is invoked as %q, want kubectl calico-node-status", cli.PluginBinary, got)
	}
}

func TestArgumentErrorsComeBeforeAnyConnection(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"name and node", []string{"get", "a", "--node", "b"}, "give NAME or --node, not both"},
		{"unknown output", []string{"get", "-o", "wide"}, `output format "wide": want yaml or json`},
		{"two names", []string{"get", "a", "b"}, "accepts at most 1 arg"},
		{"create without node", []string{"create", "x"}, `required flag(s) "node" not set`},
		{"create without name", []string{"create", "--node", "n"}, "accepts 1 arg"},
		{"create with a period that is not a number", []string{"create", "x", "--node", "n", "--period", "ten"}, `invalid argument "ten" for "--period"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Errorf("%v: contacted the server before checking its arguments: %v", tt.args, err)
			}
		})
	}
}

func TestValidArgumentsReachTheServer(t *testing.T) {
	for _, args := range [][]string{{"get"}, {"get", "x", "-o", "yaml"}, {"create", "x", "--node", "n"}} {
		_, err := run(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%v: want a connection error naming the server, got %v", args, err)
		}
	}
}

func TestHelpNamesHowItWasInvoked(t *testing.T) {
	tests := []struct {
		display string
		want    []string
	}{
		{"", []string{"calico-node-status get [NAME]", "kubectl-calico_node_status", "kubectl calico-node-status get"}},
		{"kubectl calico-node-status", []string{"kubectl calico-node-status get [NAME]", "kubectl calico-node-status create worker-1-status --node worker-1"}},
	}
	for _, tt := range tests {
		out, err := run(t, tt.display, "get", "--help")
		if err != nil {
			t.Fatal(err)
		}
		root, err := run(t, tt.display, "--help")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out+root, w) {
				t.Errorf("help as %q lacks %q:\n%s\n%s", tt.display, w, out, root)
			}
		}
	}
}
