package deploy_test

import (
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// podOn creates a Pod of service account ns/sa scheduled to node (deleted when the test ends). No kubelet
// runs: the Pod only has to exist, scheduled to the node, for a token to be bound to it.
func podOn(t *testing.T, admin kubernetes.Interface, ns, sa, node string) *corev1.Pod {
	t.Helper()
	pod, err := admin.CoreV1().Pods(ns).Create(ctxFor(t, 30*time.Second), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: sa + "-on-" + node},
		Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: sa, AutomountServiceAccountToken: new(bool),
			Containers: []corev1.Container{{Name: "agent", Image: "calico-node-status-agent"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Pod of %s/%s on %s: %v", ns, sa, node, err)
	}
	t.Cleanup(func() {
		_ = admin.CoreV1().Pods(ns).Delete(ctxFor(t, 30*time.Second), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	})
	return pod
}

// tokenConfig returns a client configuration that authenticates with a real token of ns/sa from the
// TokenRequest API, bound to bound (nil: unbound), as the API server's own authenticator sees it.
func tokenConfig(t *testing.T, env *testenv.Env, admin kubernetes.Interface, ns, sa string, bound *authenticationv1.BoundObjectReference) *rest.Config {
	t.Helper()
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctxFor(t, 30*time.Second), sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: bound, ExpirationSeconds: ptr64(600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, sa, err)
	}
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = tr.Status.Token
	return cfg
}
