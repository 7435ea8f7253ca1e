package deploy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestNodeIsolation_RealBoundTokens uses real service-account tokens from the TokenRequest API instead
// of impersonation, so the node name in the user's extra is the one the API server's own authenticator
// puts there: for a token bound to a Pod (what the kubelet requests for the DaemonSet's projected token;
// the node comes from the Pod's spec.nodeName) and for one bound to a Node. An unbound token has no
// node and is refused.
func TestNodeIsolation_RealBoundTokens(t *testing.T) {
	env := testenv.Shared(t)
	waitForPolicy(t, env)
	ctx := ctxFor(t, time.Minute)
	admin := env.Kube
	const node = "node-tok"
	createCNS(t, env, "tok-own", node, 10)
	createCNS(t, env, "tok-other", "node-elsewhere", 10)
	n, pod := nodeWithAgentPod(ctx, t, admin, node)

	tests := []struct {
		name      string
		bound     *authenticationv1.BoundObjectReference
		wantNode  string
		ownErr    string // empty: writing tok-own must succeed
		otherWant string
	}{
		{"bound to the agent's Pod", &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
			node, "", "the agent on node node-tok may not write CalicoNodeStatus tok-other, which belongs to node node-elsewhere"},
		{"bound to the Node", &authenticationv1.BoundObjectReference{Kind: "Node", APIVersion: "v1", Name: n.Name, UID: n.UID},
			node, "", "the agent on node node-tok may not write CalicoNodeStatus tok-other"},
		{"not bound", nil, "", "the agent's credentials carry no node", "the agent's credentials carry no node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			cfg := tokenConfig(t, env, admin, namespace, serviceAccount, tt.bound)
			typed, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			who, err := typed.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("SelfSubjectReview with the token: %v", err)
			}
			gotNode := strings.Join(who.Status.UserInfo.Extra[nodeNameExtra], ",")
			if who.Status.UserInfo.Username != agentUser || gotNode != tt.wantNode {
				t.Fatalf("the token authenticates as %s with %s=%q; want %s with %q", who.Status.UserInfo.Username, nodeNameExtra, gotNode, agentUser, tt.wantNode)
			}
			c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
			if err != nil {
				t.Fatal(err)
			}
			err = putStatus(ctx, c, "tok-own", time.Now())
			switch {
			case tt.ownErr == "" && err != nil:
				t.Errorf("writing its own node's status: %v", err)
			case tt.ownErr != "" && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tt.ownErr)):
				t.Errorf("writing tok-own: want 403 saying %q, got %v", tt.ownErr, err)
			}
			err = putStatus(ctx, c, "tok-other", time.Now())
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tt.otherWant) {
				t.Errorf("writing another node's status: want 403 saying %q, got %v", tt.otherWant, err)
			}
		})
	}
}

// TestBoundToken_ReporterMustBeTheTokensPod: status.reporter is the freshness signal readers trust, so
// credentials bound to a Pod may name only that Pod there (name and UID); a Node-bound token (no Pod in
// the credentials) is not held to it, and a reporter left as it was is not checked.
func TestBoundToken_ReporterMustBeTheTokensPod(t *testing.T) {
	env := testenv.Shared(t)
	waitForPolicy(t, env)
	ctx := ctxFor(t, time.Minute)
	admin := env.Kube
	const node = "node-rep"
	createCNS(t, env, "rep-own", node, 10)
	n, pod := nodeWithAgentPod(ctx, t, admin, node)
	clientFor := func(bound *authenticationv1.BoundObjectReference) client.Client {
		t.Helper()
		c, err := client.New(tokenConfig(t, env, admin, namespace, serviceAccount, bound), client.Options{Scheme: env.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	putReporter := func(c client.Client, rep v3.StatusReporter) error {
		var o v3.CalicoNodeStatus
		if err := c.Get(ctx, client.ObjectKey{Name: "rep-own"}, &o); err != nil {
			return err
		}
		o.Status.Reporter = &rep
		o.Status.LastUpdated = metav1.Now()
		return c.Status().Update(ctx, &o)
	}
	podBound := clientFor(&authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID})
	own := v3.StatusReporter{Pod: pod.Name, Namespace: namespace, UID: string(pod.UID)}
	if err := putReporter(podBound, own); err != nil {
		t.Fatalf("the Pod-bound token naming its own Pod: %v", err)
	}
	// The same reporter again (a write that changes something else) passes as well.
	if err := putReporter(podBound, own); err != nil {
		t.Fatalf("the Pod-bound token keeping its own Pod as reporter: %v", err)
	}
	for _, rep := range []v3.StatusReporter{
		{Pod: "some-other-ready-pod", Namespace: namespace, UID: string(pod.UID)},
		{Pod: pod.Name, Namespace: namespace, UID: "00000000-0000-0000-0000-000000000000"},
	} {
		err := putReporter(podBound, rep)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "status.reporter may name only the Pod the credentials are bound to") {
			t.Errorf("the Pod-bound token naming %+v: want 403 from the node isolation policy, got %v", rep, err)
		}
	}
	nodeBound := clientFor(&authenticationv1.BoundObjectReference{Kind: "Node", APIVersion: "v1", Name: n.Name, UID: n.UID})
	if err := putReporter(nodeBound, v3.StatusReporter{Pod: "agent-outside-kubelet", Namespace: namespace}); err != nil {
		t.Errorf("a Node-bound token (no Pod in the credentials) naming a Pod: %v", err)
	}
}

// nodeWithAgentPod creates the Node (removed when the test ends) and a Pod of the agent's service account
// on it, what a token is bound to.
func nodeWithAgentPod(ctx context.Context, t *testing.T, admin kubernetes.Interface, node string) (*corev1.Node, *corev1.Pod) {
	t.Helper()
	n, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Node %s: %v", node, err)
	}
	t.Cleanup(func() { _ = admin.CoreV1().Nodes().Delete(ctxFor(t, 30*time.Second), node, metav1.DeleteOptions{}) })
	return n, podOn(t, admin, namespace, serviceAccount, node)
}

func ptr64(v int64) *int64 { return &v }
