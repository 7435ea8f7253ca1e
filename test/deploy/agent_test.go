package deploy_test

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestAgent_RunsWithTheDeployedIdentity runs the real agent binary as the identity the DaemonSet gives
// it (the agent's service account with its node in the user's extra, by impersonation) under the RBAC
// and the node isolation policy of config/: it must become ready and write its own node's status with
// nothing refused, which is what "least privilege" has to allow. BIRD is absent here, so the status it
// writes says the daemon is unreachable.
func TestAgent_RunsWithTheDeployedIdentity(t *testing.T) {
	env := testenv.Shared(t)
	waitForPolicy(t, env)
	const node = "node-agent"
	own := createCNS(t, env, "agent-own", node, 5)
	other := createCNS(t, env, "agent-other", "node-elsewhere", 5)

	dir := t.TempDir()
	ctx := ctxFor(t, 5*time.Minute)
	bin := filepath.Join(dir, "calico-node-status-agent")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/calico-node-status-agent")
	build.Dir = env.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the agent: %v\n%s", err, out)
	}
	kubeconfig := agentKubeconfig(t, env, node, filepath.Join(dir, "agent.kubeconfig"))
	health, metrics := testenv.FreeAddr(t), testenv.FreeAddr(t)
	agent := exec.Command(bin, "--kubeconfig", kubeconfig, "--node-name", node,
		"--bird-socket", filepath.Join(dir, "no-bird.ctl"), "--bird6-socket", filepath.Join(dir, "no-bird6.ctl"),
		"--health-probe-bind-address", health, "--metrics-bind-address", metrics)
	logs := &testenv.SyncBuffer{}
	agent.Stdout, agent.Stderr = logs, logs
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var exitErr error
	go func() { exitErr = agent.Wait(); close(done) }()
	stillRunning := func() {
		select {
		case <-done:
			t.Fatalf("the agent exited (%v):\n%s", exitErr, logs.String())
		default:
		}
	}
	// The test started this process; it stops it by its id.
	t.Cleanup(func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = agent.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	})

	testenv.Eventually(t, time.Minute, "the agent's /readyz", func() (bool, error) {
		stillRunning()
		resp, err := http.Get("http://" + health + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("/readyz: %s", resp.Status)
	})
	var got v3.CalicoNodeStatus
	testenv.Eventually(t, time.Minute, "the agent to write the status of "+own.Name, func() (bool, error) {
		stillRunning()
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(own), &got); err != nil {
			return false, err
		}
		return !got.Status.LastUpdated.IsZero() && got.Status.ObservedGeneration == got.Generation,
			fmt.Errorf("status so far: %+v (agent log: %s)", got.Status, logs.String())
	})
	ready := findReady(got.Status.Conditions)
	if ready == nil || ready.Status != metav1.ConditionFalse {
		t.Errorf("without BIRD the Ready condition must be False, got %+v", ready)
	}
	var o v3.CalicoNodeStatus
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(other), &o); err != nil {
		t.Fatal(err)
	}
	if !o.Status.LastUpdated.IsZero() || len(o.Status.Conditions) > 0 {
		t.Errorf("the agent on %s wrote the status of %s (node %s): %+v", node, other.Name, other.Spec.Node, o.Status)
	}
	view := cliOut(t, env, "get", own.Name)
	if !strings.Contains(view, "Status:        NOT READY") {
		t.Errorf("the CLI's view of the agent's status:\n%s", view)
	}
	for _, word := range []string{"forbidden", "Forbidden", "denied request"} {
		if strings.Contains(logs.String(), word) {
			t.Errorf("the agent was refused something (%q) with the deployed RBAC/policy:\n%s", word, logs.String())
			break
		}
	}
}

func findReady(conds []metav1.Condition) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == v3.ConditionReady {
			return &conds[i]
		}
	}
	return nil
}

// agentKubeconfig writes a copy of the admin kubeconfig that impersonates the agent's service account
// on node, with the groups and extra a Pod-bound token of the DaemonSet would carry.
func agentKubeconfig(t *testing.T, env *testenv.Env, node, path string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	id := agentOn(node)
	for _, ai := range cfg.AuthInfos {
		ai.Impersonate, ai.ImpersonateGroups = id.user, id.groups
		ai.ImpersonateUserExtra = map[string][]string{nodeNameExtra: {node}}
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
