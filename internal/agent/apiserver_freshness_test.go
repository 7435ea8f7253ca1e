package agent

// API tier: the agent's readiness on a real kube-apiserver when its status writes are denied.

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestAPIServer_ReadinessFailsWhileStatusWritesAreDenied: a ValidatingAdmissionPolicy denies the status
// writes of one node's objects; once a changed status has stayed unwritten beyond the bound the agent is
// not ready (ReadyError, which /readyz serves, names the object and the denial); with the policy removed
// the status is written and the agent is ready again. The agent knows its Pod, so no heartbeat writes.
func TestAPIServer_ReadinessFailsWhileStatusWritesAreDenied(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	// probeNode has no agent: the test's own status writes of its object tell when the policy is in force.
	const node, probeNode = "ro-node", "ro-probe-node"
	src := &scriptedSource{snap: nodeSnapshot("10.13.0.1", "Established")}
	a := startAgentOpts(t, env, node, src, func(o *Options) {
		o.Pod = PodRef{Name: "agent-ro", Namespace: "calico-node-status", UID: "3c2f6f44-1111-4d7e-9f0b-6a1f2b3c4d5e"}
		o.UnwrittenBound = 2 * time.Second // the bound is max(2×period, this): 2 s with a 1 s period
	})
	o := createObject(t, c, "ro-obj", node, 1, classesAll())
	waitCollected(t, c, o)
	if rep := get(t, c, o.Name).Status.Reporter; rep == nil || rep.Pod != "agent-ro" || rep.HeartbeatSeconds != 0 {
		t.Fatalf("status.reporter = %+v, want the agent's Pod and no heartbeat", rep)
	}
	if err := a.r.ReadyError(); err != nil {
		t.Fatalf("ready after the first write: %v", err)
	}

	kc := env.Kube
	ctx := context.Background()
	fail := admissionregistrationv1.Fail
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny-ro-node-status"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{v3.GroupVersion.Group}, APIVersions: []string{"v3"},
						Resources: []string{"caliconodestatuses/status"}}}}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "!(object.spec.node in ['" + node + "', '" + probeNode + "'])",
				Message: "status writes of " + node + " are denied by the test"}},
		}}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "deny-ro-node-status"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}}}
	if _, err := kc.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	removePolicy := func() {
		for _, err := range []error{
			kc.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{}),
			kc.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(ctx, policy.Name, metav1.DeleteOptions{}),
		} {
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("remove the denying policy: %v", err)
			}
		}
	}
	t.Cleanup(removePolicy)
	if _, err := kc.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The API server loads a new policy after a moment: wait until it denies a status write of the probe
	// object, else the agent's write of the change below could pass before it and leave nothing to deny.
	probe := createObject(t, c, "ro-probe", probeNode, 0, classesAll())
	testenv.Eventually(t, 30*time.Second, "the policy to deny status writes", func() bool {
		cur := get(t, c, probe.Name)
		cur.Status.LastUpdated = metav1.Now()
		_, err := c.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return apierrors.IsInvalid(err) || apierrors.IsForbidden(err)
	})

	// A peer goes down: there is a new status to write, and the policy denies it.
	src.set(nodeSnapshot("10.13.0.1", "Active"))
	var notReady error
	testenv.Eventually(t, 30*time.Second, "the agent not ready for the denied writes", func() bool {
		notReady = a.r.ReadyError()
		return notReady != nil
	})
	if msg := notReady.Error(); !strings.Contains(msg, "ro-obj") || !strings.Contains(msg, "denied by the test") {
		t.Errorf("ReadyError = %q, want it to name the object and the denial", msg)
	}
	if rep := get(t, c, o.Name).Status.Reporter; rep == nil || rep.Pod != "agent-ro" {
		t.Errorf("status.reporter after the denial = %+v", rep)
	}

	removePolicy()
	testenv.Eventually(t, 30*time.Second, "the agent ready again once its writes pass", func() bool {
		return a.r.ReadyError() == nil
	})
	st := get(t, c, o.Name).Status
	if st.BGP == nil || st.BGP.NumberNotEstablishedV4+st.BGP.NumberNotEstablishedV6 == 0 {
		t.Errorf("after recovery the status does not show the peer down: %+v", st.BGP)
	}
}
