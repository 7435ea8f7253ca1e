package deploy_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestNodeIsolation_AgentWritesOnlyItsOwnNodesStatus checks the ValidatingAdmissionPolicy of
// config/admission with the identities the API server gives an agent's Pod-bound token: the agent on
// node-a gets 403 writing the status of node-b's object and succeeds with its own.
func TestNodeIsolation_AgentWritesOnlyItsOwnNodesStatus(t *testing.T) {
	env := testenv.Shared(t)
	applyConfig(t)
	createCNS(t, env, "iso-node-a", "node-a", 10)
	createCNS(t, env, "iso-node-b", "node-b", 10)

	waitForPolicy(t, env)

	// A user in the agents' group with system:masters: RBAC allows everything, the policy still applies.
	labAgent := identity{user: "lab-agent", groups: []string{"system:masters", "calico-node-status:agents"}, node: "node-a"}
	tests := []struct {
		name      string
		who       identity
		object    string
		wantError string // empty: the write must succeed
	}{
		{"agent on node-a writes its own node's status", agentOn("node-a"), "iso-node-a", ""},
		{"agent on node-a writes node-b's status", agentOn("node-a"), "iso-node-b", "the agent on node node-a may not write CalicoNodeStatus iso-node-b, which belongs to node node-b"},
		{"agent on node-b writes its own node's status", agentOn("node-b"), "iso-node-b", ""},
		{"agent on node-b writes node-a's status", agentOn("node-b"), "iso-node-a", "the agent on node node-b may not write CalicoNodeStatus iso-node-a, which belongs to node node-a"},
		{"agent credentials without a node", agentOn(""), "iso-node-a", "the agent's credentials carry no node"},
		{"agents group member on node-a writes its own", labAgent, "iso-node-a", ""},
		{"agents group member on node-a writes node-b's, even as system:masters", labAgent, "iso-node-b", "the agent on node node-a may not write CalicoNodeStatus iso-node-b"},
		{"admin (not an agent) writes any node's status", identity{user: "cluster-admin", groups: []string{"system:masters"}}, "iso-node-b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := putStatus(ctxFor(t, 10*time.Second), tt.who.client(t, env), tt.object, time.Now())
			if tt.wantError == "" {
				if err != nil {
					t.Fatalf("status patch of %s as %s (node %q) must succeed: %v", tt.object, tt.who.user, tt.who.node, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("status patch of %s as %s (node %q) must be refused, it succeeded", tt.object, tt.who.user, tt.who.node)
			}
			var status apierrors.APIStatus
			if !apierrors.IsForbidden(err) || !asStatus(err, &status) || status.Status().Code != http.StatusForbidden {
				t.Errorf("want HTTP 403 Forbidden, got %v", err)
			}
			if !strings.Contains(err.Error(), tt.wantError) || !strings.Contains(err.Error(), policyName) {
				t.Errorf("refusal should name the policy %s and say %q; got: %v", policyName, tt.wantError, err)
			}
		})
	}
}

func asStatus(err error, target *apierrors.APIStatus) bool { return errors.As(err, target) }

// waitForPolicy waits until the API server enforces the node isolation policy applied from config/:
// it loads policies asynchronously, so right after the apply a write RBAC allows may still pass. It
// probes with node-a's agent writing node-b's object, which only the policy refuses, and logs the
// refusal as the API server words it.
func waitForPolicy(t *testing.T, env *testenv.Env) {
	t.Helper()
	applyConfig(t)
	probe := createCNS(t, env, "policy-probe-"+strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), "node-b", 10)
	agentA := agentOn("node-a").client(t, env)
	var denied error
	testenv.Eventually(t, 30*time.Second, "the node isolation policy to refuse node-a's agent on node-b's object", func() (bool, error) {
		denied = putStatus(ctxFor(t, 10*time.Second), agentA, probe.Name, time.Now())
		return denied != nil, nil
	})
	if !apierrors.IsForbidden(denied) || !strings.Contains(denied.Error(), policyName) {
		t.Fatalf("the first refusal is not the policy's 403: %v", denied)
	}
	t.Logf("refusal as the API server words it: %v", denied)
}
