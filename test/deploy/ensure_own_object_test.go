package deploy_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/agent"
	"github.com/calico-node-status/calico-node-status/internal/agent/ownobject"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestEnsureOwnObject_AgentCreatesOnlyItsOwnNodesObject applies config/ and the optional RBAC of
// config/rbac/ensure-own-object on a control plane of its own (the shared one must keep the default RBAC,
// which TestRBAC_* checks is exactly least privilege) and runs the agent's --ensure-own-object logic as
// the agent's identity: it creates its own node's object, labelled, once; with the create right, the node
// isolation policy still refuses an object of another node, and an agent whose --node-name is not the node
// in its token creates nothing.
func TestEnsureOwnObject_AgentCreatesOnlyItsOwnNodesObject(t *testing.T) {
	env := testenv.StartForTest(t, testenv.Options{})
	ctx := ctxFor(t, 3*time.Minute)
	dir := filepath.Join(env.RepoRoot, "config")
	for _, args := range [][]string{
		{"apply", "-f", filepath.Join(dir, "agent", "namespace.yaml")},
		{"apply", "-k", dir},
		{"apply", "-k", filepath.Join(dir, "rbac", "ensure-own-object")},
	} {
		if out, err := env.Kubectl(ctx, "", args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	agentA := agentOn("node-a").client(t, env)
	probe := func(name, node string) *v3.CalicoNodeStatus {
		return &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v3.CalicoNodeStatusSpec{
			Node: node, Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: period(10)}}
	}
	// The API server loads policies asynchronously: until it enforces this one, RBAC alone lets the agent
	// create node-b's object (deleted again as admin).
	var denied error
	testenv.Eventually(t, 30*time.Second, "the node isolation policy to refuse node-a's agent creating node-b's object", func() (bool, error) {
		denied = agentA.Create(ctx, probe("probe-node-b", "node-b"))
		if denied == nil {
			_ = env.Client.Delete(ctx, probe("probe-node-b", "node-b"))
		}
		return denied != nil, denied
	})
	if !apierrors.IsForbidden(denied) || !strings.Contains(denied.Error(), policyName) ||
		!strings.Contains(denied.Error(), "the agent on node node-a may not write CalicoNodeStatus probe-node-b, which belongs to node node-b") {
		t.Fatalf("creating another node's object: want the policy's 403, got %v", denied)
	}

	run := func(tokenNode, nodeName string, d time.Duration) (string, error) {
		t.Helper()
		store, err := agent.NewKubeStore(agentOn(tokenNode).config(env), nodeName)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		go store.Informer().RunWithContext(rctx)
		own := &ownobject.Ensurer{Node: nodeName, Store: store, Creator: store, Synced: store.Informer().HasSynced,
			MinBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}
		return own.Run(rctx)
	}
	if got, err := run("node-a", "node-a", time.Minute); err != nil || got != "created" {
		t.Fatalf("first run on node-a: %q, %v; want created", got, err)
	}
	var own v3.CalicoNodeStatus
	if err := env.Client.Get(ctx, client.ObjectKey{Name: v3.ManagedObjectName("node-a")}, &own); err != nil {
		t.Fatalf("the agent's object: %v", err)
	}
	if own.Spec.Node != "node-a" || own.Labels[v3.LabelManaged] != "true" || own.Annotations[v3.AnnotationCreatedBy] != "agent" ||
		len(own.Spec.Classes) != 2 || *own.Spec.UpdatePeriodSeconds != v3.ManagedPeriodSeconds {
		t.Errorf("the agent's object: %+v %+v", own.ObjectMeta, own.Spec)
	}
	if got, err := run("node-a", "node-a", time.Minute); err != nil || got != "exists" {
		t.Errorf("second run on node-a: %q, %v; want exists (nothing created)", got, err)
	}
	// An agent told it runs on node-c while its token says node-a: every create is refused, it retries
	// until stopped, and nothing is created.
	if got, err := run("node-a", "node-c", 3*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("agent with the wrong node name: %q, %v; want it still retrying at its deadline", got, err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: v3.ManagedObjectName("node-c")}, &v3.CalicoNodeStatus{}); !apierrors.IsNotFound(err) {
		t.Errorf("node-c's object: %v, want NotFound", err)
	}
	// The create right is create only: the agent still cannot delete objects, not even its own.
	if err := agentA.Delete(ctx, &own); !apierrors.IsForbidden(err) {
		t.Errorf("agent deleting its own object: %v, want 403", err)
	}
}
