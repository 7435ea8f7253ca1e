package node_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/calico-node-status/calico-node-status/cmd/calico-node-status/cli"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// cliFreshness checks, on the real node, that the CLI's verdict follows the agent Pod the kubelet runs:
// READY while it is Ready (the agent writes no heartbeat), STALE once the DaemonSet is gone and with it
// the Pod, with nothing else written meanwhile.
func cliFreshness(t *testing.T, env *testenv.Env, admin kubernetes.Interface, object string) {
	get := func() string {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := cli.NewRootCommand(cli.Options{Streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
		cmd.SetArgs([]string{"get", object, "--kubeconfig", env.Kubeconfig, "--request-timeout", "10s"})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatalf("calico-node-status get %s: %v\n%s", object, err, errOut.String())
		}
		return out.String()
	}
	out := get()
	for _, w := range []string{"Agent pod:     " + namespace + "/" + dsName + "-", "Status:        READY"} {
		if !strings.Contains(out, w) {
			t.Errorf("with the agent running, the view lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "STALE") || strings.Contains(out, "freshness unknown") {
		t.Errorf("with the agent Pod Ready, the status is current:\n%s", out)
	}

	deleteDaemonSet(t, admin)
	out = get()
	for _, w := range []string{"Status:        STALE, READY", "stale: agent pod " + namespace + "/" + dsName + "-", " is gone; nothing has written this status since"} {
		if !strings.Contains(out, w) {
			t.Errorf("with the agent gone, the view lacks %q:\n%s", w, out)
		}
	}
}
