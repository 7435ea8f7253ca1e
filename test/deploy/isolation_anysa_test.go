package deploy_test

import (
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestNodeIsolation_AnyServiceAccountBoundToTheRole is finding 8 of the hardening issue: isolation used
// to match one exact service-account name, so a second service account bound to the agent's ClusterRole
// (here in another namespace, as an install elsewhere would be) wrote any node's status. With real
// Pod-bound tokens of that second account: its own node's status is allowed, another node's refused,
// and an unbound token (no node) refused.
func TestNodeIsolation_AnyServiceAccountBoundToTheRole(t *testing.T) {
	env := testenv.Shared(t)
	waitForPolicy(t, env)
	ctx := ctxFor(t, time.Minute)
	admin := env.Kube
	const (
		otherNS = "elsewhere"
		otherSA = "my-status-agent"
		node    = "node-anysa"
	)
	createCNS(t, env, "anysa-own", node, 10)
	createCNS(t, env, "anysa-other", "node-not-mine", 10)

	mustCreate := func(what string, err error) {
		t.Helper()
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %s: %v", what, err)
		}
	}
	_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: otherNS}}, metav1.CreateOptions{})
	mustCreate("namespace "+otherNS, err)
	_, err = admin.CoreV1().ServiceAccounts(otherNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: otherSA}}, metav1.CreateOptions{})
	mustCreate("service account "+otherSA, err)
	// Bound to the agent's own ClusterRole (applied from config/ by waitForPolicy).
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "anysa-agent-role"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: serviceAccount},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: otherSA, Namespace: otherNS}},
	}
	_, err = admin.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	mustCreate("ClusterRoleBinding "+crb.Name, err)
	t.Cleanup(func() {
		_ = admin.RbacV1().ClusterRoleBindings().Delete(ctxFor(t, 30*time.Second), crb.Name, metav1.DeleteOptions{})
	})
	_, err = admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	mustCreate("Node "+node, err)
	t.Cleanup(func() { _ = admin.CoreV1().Nodes().Delete(ctxFor(t, 30*time.Second), node, metav1.DeleteOptions{}) })
	pod := podOn(t, admin, otherNS, otherSA, node)
	clientWithToken := func(t *testing.T, bound *authenticationv1.BoundObjectReference) client.Client {
		t.Helper()
		c, err := client.New(tokenConfig(t, env, admin, otherNS, otherSA, bound), client.Options{Scheme: env.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("Pod-bound token", func(t *testing.T) {
		c := clientWithToken(t, &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID})
		ctx := ctxFor(t, 30*time.Second)
		// RBAC propagates asynchronously to the authorizer's cache: wait until the own write passes.
		var err error
		testenv.Eventually(t, 30*time.Second, "the second service account's write of its own node's status", func() (bool, error) {
			err = putStatus(ctx, c, "anysa-own", time.Now())
			return err == nil, err
		})
		err = putStatus(ctx, c, "anysa-other", time.Now())
		want := "the agent on node " + node + " may not write CalicoNodeStatus anysa-other, which belongs to node node-not-mine"
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
			t.Fatalf("a second service account bound to the agent's role wrote another node's status: want 403 saying %q, got %v", want, err)
		}
	})
	t.Run("unbound token", func(t *testing.T) {
		c := clientWithToken(t, nil)
		err := putStatus(ctxFor(t, 30*time.Second), c, "anysa-own", time.Now())
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "the agent's credentials carry no node") {
			t.Fatalf("an unbound token of a second service account: want 403 (no node), got %v", err)
		}
	})
}
