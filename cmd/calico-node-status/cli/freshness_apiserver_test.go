package cli_test

// Tier "API": the freshness verdict from the agent Pod a status names (status.reporter), on a real
// kube-apiserver: a Pod whose Ready condition is set through the status subresource as a kubelet would.

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/cmd/calico-node-status/cli"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

func TestAPIServer_FreshnessFromTheAgentPod(t *testing.T) {
	env := testenv.StartForTest(t, testenv.Options{})
	kc, c := env.Kube, env.Clientset.ProjectcalicoV3().CalicoNodeStatuses()
	ctx := context.Background()
	const ns, node = "calico-node-status", "fresh-node"
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "calico-node-status-agent-abcde", Namespace: ns},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "agent", Image: "calico-node-status-agent"}}}}
	pod, err := kc.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady := func(status corev1.ConditionStatus, msg string) {
		t.Helper()
		pod.Status.Phase = corev1.PodRunning
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now(), Message: msg}}
		updated, err := kc.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("pod Ready=%s: %v", status, err)
		}
		pod = updated
	}
	setReady(corev1.ConditionTrue, "")

	// A status last changed an hour ago, by the agent in that Pod: no heartbeat, and none needed.
	writeStatus(t, c, "fresh-status", node, "10.0.9.1", meshPeer("10.0.9.2", v3.BGPSessionStateEstablished, ""))
	o, err := c.Get(ctx, "fresh-status", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o.Status.LastUpdated = metav1.NewTime(time.Now().Add(-time.Hour))
	o.Status.Reporter = &v3.StatusReporter{Pod: pod.Name, Namespace: ns, UID: string(pod.UID)}
	if _, err := c.UpdateStatus(ctx, o, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	agentPod := ns + "/" + pod.Name

	get := func(what string, kubeconfig string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := cli.NewRootCommand(cli.Options{Streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
		cmd.SetArgs([]string{"get", "fresh-status", "--kubeconfig", kubeconfig, "--request-timeout", "10s"})
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatalf("%s: get: %v\n%s", what, err, errOut.String())
		}
		return out.String()
	}

	out := get("pod Ready", env.Kubeconfig)
	wantAll(t, "pod Ready, status unchanged for an hour", out, "Agent pod:     "+agentPod, "Status:        READY", "Last changed:  ")
	if strings.Contains(out, "STALE") || strings.Contains(out, "freshness unknown") {
		t.Errorf("pod Ready: the status is current however old lastUpdated is:\n%s", out)
	}

	setReady(corev1.ConditionFalse, "containers with unready status: [agent]")
	out = get("pod not ready", env.Kubeconfig)
	wantAll(t, "pod not ready", out, "Status:        STALE, READY", "stale: agent pod "+agentPod+" is not ready since", "containers with unready status: [agent]")

	// Someone who may read statuses but not Pods: not STALE, but said.
	viewer, err := env.AddUser("status-viewer")
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "status-viewer"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{v3.GroupVersion.Group}, Resources: []string{"caliconodestatuses"}, Verbs: []string{"get", "list", "watch"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "status-viewer"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: viewer.Name}}}
	if _, err := kc.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out = get("pods forbidden", viewer.Kubeconfig)
	wantAll(t, "pods forbidden", out, "Status:        READY", "freshness unknown: cannot read pod "+agentPod+": get pod: ", "forbidden")
	if strings.Contains(out, "STALE") {
		t.Errorf("pods forbidden: not STALE:\n%s", out)
	}

	zero := int64(0)
	if err := kc.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the pod deleted", func() bool {
		_, err := kc.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		return err != nil
	})
	out = get("pod gone", env.Kubeconfig)
	wantAll(t, "pod gone", out, "Status:        STALE, READY", "stale: agent pod "+agentPod+" is gone; nothing has written this status since (last change 60m ago)")

	// peers reads the Pods with one list per namespace: the same verdict, on stderr.
	stdout, stderr, err := runOn(t, env, "peers")
	if err != nil {
		t.Fatalf("peers: %v\n%s", err, stderr)
	}
	wantAll(t, "peers", stdout, "10.0.9.2")
	wantAll(t, "peers stderr", stderr, "node "+node+": fresh-status is STALE: agent pod "+agentPod+" is gone")
}
