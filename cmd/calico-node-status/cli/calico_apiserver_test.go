package cli_test

// Tier "API", beside Calico: the CLI's check, and get/create explaining their failures, on a real
// kube-apiserver + etcd with Calico's own manifests of testenv.CalicoVersion (make calico-fixtures).

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/calico-node-status/calico-node-status/cmd/calico-node-status/cli"
	"github.com/calico-node-status/calico-node-status/internal/apicheck"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

func runOn(t *testing.T, env *testenv.Env, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := cli.NewRootCommand(cli.Options{Streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	cmd.SetArgs(append(args, "--kubeconfig", env.Kubeconfig, "--request-timeout", "10s"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func wantAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

var crdGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// TestAPIServer_CheckSaysWhoServesCalicoNodeStatus walks one control plane through the cases: our CRD,
// Calico's APIService shadowing it, our CRD taking the group from an installed Calico API server, no CRD,
// and Calico's native CRD instead of ours.
func TestAPIServer_CheckSaysWhoServesCalicoNodeStatus(t *testing.T) {
	apiService := testenv.CalicoObject(t, testenv.CalicoAPIServerManifest, "APIService", apicheck.APIServiceName)
	native := testenv.CalicoObject(t, testenv.CalicoNativeCRD, "CustomResourceDefinition", apicheck.CRDName)
	env := testenv.StartForTest(t, testenv.Options{})
	ctx := context.Background()

	out, _, err := runOn(t, env, "check")
	if err != nil {
		t.Fatalf("check on our CRD: %v", err)
	}
	wantAll(t, "check on our CRD", out, "OK: calico-node-status's CRD caliconodestatuses.projectcalico.org serves projectcalico.org/v3")

	// Calico's APIService, as the tigera-operator or kubectl replace leaves it.
	apiServices := env.MustResource(t, apiService)
	cur, err := apiServices.Get(ctx, apicheck.APIServiceName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replaced := apiService.DeepCopy()
	replaced.SetResourceVersion(cur.GetResourceVersion())
	if _, err := apiServices.Update(ctx, replaced, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the check to see Calico's APIService", func() bool {
		_, _, err := runOn(t, env, "check")
		return err != nil && strings.Contains(err.Error(), string(apicheck.ServedByAPIService))
	})
	_, _, err = runOn(t, env, "check")
	wantAll(t, "check with Calico's APIService", err.Error(), "Service calico-apiserver/calico-api", "ServiceNotFound", "Calico's API server",
		"kubectl delete apiservice v3.projectcalico.org")
	_, _, err = runOn(t, env, "get")
	if err == nil {
		t.Fatal("get succeeded while the group is shadowed")
	}
	wantAll(t, "get with Calico's APIService", err.Error(), "ServedByAPIService", "Calico's API server")
	t.Logf("get with Calico's APIService:\n%v", err)
	_, _, err = runOn(t, env, "create", "shadowed", "--node", "n1")
	if err == nil {
		t.Fatal("create succeeded while the group is shadowed")
	}
	wantAll(t, "create with Calico's APIService", err.Error(), "ServedByAPIService")

	// Calico's API server installed (its Service) and its APIService applied with kubectl apply after our
	// CRD: autoregistration reverts it; we work, Calico's API server gets nothing: the check warns.
	if err := apiServices.Delete(ctx, replaced.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": apicheck.CalicoAPIServerNamespace}}}
	svc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": apicheck.CalicoAPIServerService, "namespace": apicheck.CalicoAPIServerNamespace},
		"spec":     map[string]any{"ports": []any{map[string]any{"port": int64(443)}}}}}
	if err := env.Apply(ctx, ns, svc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "our CRD to be served again", func() bool { _, _, err := runOn(t, env, "check"); return err == nil })
	if _, err := env.Kubectl(ctx, mustJSON(t, apiService), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	var stderr string
	waitFor(t, 30*time.Second, "the check to warn about Calico's API server", func() bool {
		var err error
		_, stderr, err = runOn(t, env, "check")
		return err == nil && strings.Contains(stderr, "warning:")
	})
	wantAll(t, "check's warning", stderr, "Calico's API server is installed", "kubectl apply", "reverts it")
	t.Logf("check with Calico's API server installed after our CRD:\n%s", stderr)

	// No CRD: create says so.
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(crdGVK)
	crd.SetName(apicheck.CRDName)
	crds := env.MustResource(t, crd)
	if err := crds.Delete(ctx, crd.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the check to see no CRD", func() bool {
		_, _, err := runOn(t, env, "check")
		return err != nil && strings.Contains(err.Error(), string(apicheck.CRDNotInstalled))
	})
	_, _, err = runOn(t, env, "create", "nocrd", "--node", "n1")
	if err == nil {
		t.Fatal("create succeeded without the CRD")
	}
	wantAll(t, "create without the CRD", err.Error(), "CRDNotInstalled", "kubectl apply -k config/")
	t.Logf("create without the CRD:\n%v", err)

	// Calico's native CRD instead of ours.
	waitFor(t, 30*time.Second, "the CRD to be gone", func() bool {
		_, err := crds.Get(ctx, apicheck.CRDName, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if err := env.Apply(ctx, native); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the check to see Calico's CRD", func() bool {
		_, _, err := runOn(t, env, "check")
		return err != nil && strings.Contains(err.Error(), string(apicheck.NoStatusSubresource))
	})
	_, _, err = runOn(t, env, "check")
	wantAll(t, "check with Calico's CRD", err.Error(), "no status subresource and no selectable field spec.node",
		"kubectl replace -f config/crd/bases/projectcalico.org_caliconodestatuses.yaml")
	_, _, err = runOn(t, env, "get", "--node", "n1")
	if err == nil {
		t.Fatal("get --node succeeded on Calico's CRD (no selectable field)")
	}
	wantAll(t, "get --node with Calico's CRD", err.Error(), "field label not supported", "NoStatusSubresource")
	t.Logf("get --node with Calico's CRD:\n%v", err)
}

func mustJSON(t *testing.T, o *unstructured.Unstructured) string {
	t.Helper()
	b, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
