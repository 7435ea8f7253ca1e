package agent

// Tier "API", beside Calico: the agent on a real kube-apiserver + etcd next to Calico's own API, installed
// from Calico's own manifests of release testenv.CalicoVersion (the Calico fixtures; make calico-fixtures).
// The four cases of the README's "Running beside Calico":
//   1. no Calico API: every other test of this package;
//   2. Calico's crd.projectcalico.org/v1 CRDs, no Calico API server: TestAPIServer_BesideCalicoV1CRDs...;
//   3. Calico's APIService v3.projectcalico.org: TestAPIServer_CalicoAPIServiceShadowsOurCRD...;
//   4. Calico's native v3 CRD, and another writer of one status: TestAPIServer_CalicoNativeCRD... and
//      TestAPIServer_AgentLeavesAnObjectToAnotherStatusWriter....

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/apicheck"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// ready is what the agent's /readyz says: nil when ready.
func (a *runningAgent) ready() error {
	if err := a.checker.ReadyError(); err != nil {
		return err
	}
	if !a.ctrl.Synced() {
		return fmt.Errorf("caliconodestatus watch not synced")
	}
	return nil
}

func (a *runningAgent) problemMetric(p apicheck.Problem) float64 {
	return testutil.ToFloat64(a.metrics.beside.apiProblem.WithLabelValues(string(p)))
}

// eventsFor returns the events.k8s.io Events about one object with one reason.
func eventsFor(t *testing.T, env *testenv.Env, name, reason string) []eventsv1.Event {
	t.Helper()
	evs, err := env.Kube.EventsV1().Events("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range evs.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// calicoAPIService is Calico's APIService as its manifest has it.
func calicoAPIService(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	return testenv.CalicoObject(t, testenv.CalicoAPIServerManifest, "APIService", apicheck.APIServiceName)
}

func TestAPIServer_BesideCalicoV1CRDsBothAPIsCoexistAndTheAgentWorks(t *testing.T) {
	env := testenv.Shared(t)
	cs := cns(env)
	ctx := context.Background()
	crds := testenv.CalicoObjects(t, testenv.CalicoV1CRDDir)
	if err := env.Apply(ctx, crds...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, o := range crds {
			_ = env.MustResource(t, o).Delete(context.Background(), o.GetName(), metav1.DeleteOptions{})
		}
	})
	v1 := schema.GroupVersionKind{Group: "crd.projectcalico.org", Version: "v1", Kind: "CalicoNodeStatus"}
	// Calico's own object of the same name, in its group, as calico-node's reporter would see it.
	theirs := &unstructured.Unstructured{}
	theirs.SetGroupVersionKind(v1)
	theirs.SetName("v1-beside")
	theirs.Object["spec"] = map[string]any{"node": "v1-node", "classes": []any{"BGP"}, "updatePeriodSeconds": int64(10)}
	testenv.Eventually(t, 30*time.Second, "Calico's crd.projectcalico.org/v1 CalicoNodeStatus to be served", func() bool {
		r, err := env.Resource(theirs)
		if err == nil {
			_, err = r.Create(ctx, theirs, metav1.CreateOptions{})
		}
		return err == nil || apierrors.IsAlreadyExists(err)
	})
	t.Cleanup(func() {
		_ = env.MustResource(t, theirs).Delete(context.Background(), theirs.GetName(), metav1.DeleteOptions{})
	})

	src := &scriptedSource{snap: nodeSnapshot("10.40.0.1", "Established")}
	a := startAgent(t, env, "v1-node", src, agentSetup{heartbeat: time.Hour, besideCalico: true, otherWriterQuiet: time.Hour})
	ours := createObject(t, cs, "v1-beside", "v1-node", 1, classesAll())
	waitCollected(t, cs, ours)
	testenv.Eventually(t, 20*time.Second, "the agent to be ready", func() bool { return a.ready() == nil })
	if rep, bad := a.checker.Problem(); bad {
		t.Fatalf("API check beside Calico's v1 CRDs: %+v", rep)
	}

	// Both groups are served: calico-node's auto-detection (libcalico-go UsingV3CRDs: native v3 only when
	// projectcalico.org is present and crd.projectcalico.org is not) then stays on crd.projectcalico.org/v1,
	// so its reporter writes Calico's objects, never ours.
	for _, gv := range []string{"/apis/projectcalico.org/v3", "/apis/crd.projectcalico.org/v1"} {
		if _, err := rawGet(t, env, gv); err != nil {
			t.Fatalf("discovery of %s: %v", gv, err)
		}
	}
	got, err := env.MustResource(t, theirs).Get(ctx, theirs.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, has := got.Object["status"]; has {
		t.Fatalf("our agent wrote Calico's crd.projectcalico.org/v1 object: %v", got.Object["status"])
	}
	if g := get(t, cs, ours.Name); g.Status.BGP == nil || g.Status.BGP.NumberEstablishedV4 != 2 {
		t.Fatalf("our object's status: %+v", g.Status.BGP)
	}

	// What a person typing kubectl gets (the README says it): the bare resource name resolves to Calico's
	// group, our short name and the full name to ours.
	for name, want := range map[string]string{
		"caliconodestatus":                     "crd.projectcalico.org/v1",
		"cns":                                  "projectcalico.org/v3",
		"caliconodestatuses.projectcalico.org": "projectcalico.org/v3",
	} {
		out, err := env.Kubectl(ctx, "", "get", name, "v1-beside", "-o", "jsonpath={.apiVersion}")
		if err != nil || out != want {
			t.Errorf("kubectl get %s: %q, %v; want %s", name, out, err, want)
		}
	}
}

// rawGet GETs a path as admin; params are name, value pairs of the query.
func rawGet(t *testing.T, env *testenv.Env, path string, params ...string) ([]byte, error) {
	t.Helper()
	rc, err := apicheck.NewClient(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := rc.Get().AbsPath(path)
	for i := 0; i+1 < len(params); i += 2 {
		req = req.Param(params[i], params[i+1])
	}
	return req.Do(ctx).Raw()
}

// TestAPIServer_CalicoAPIServiceShadowsOurCRD installs Calico's APIService v3.projectcalico.org (pointing
// at Calico's API server's Service, absent here, as on a cluster whose Calico API server is down or not
// yet running) on a control plane serving our CRD, and records what the API server does, then what the
// agent says, and that it recovers when the APIService goes.
func TestAPIServer_CalicoAPIServiceShadowsOurCRD(t *testing.T) {
	apiService := calicoAPIService(t)
	env := testenv.StartForTest(t, testenv.Options{})
	cs := cns(env)
	ctx := context.Background()
	src := &scriptedSource{snap: nodeSnapshot("10.41.0.1", "Established")}
	a := startAgent(t, env, "sh-calico-node", src, agentSetup{heartbeat: time.Hour, besideCalico: true, otherWriterQuiet: time.Hour})
	o := createObject(t, cs, "sh-calico", "sh-calico-node", 1, classesAll())
	waitCollected(t, cs, o)
	testenv.Eventually(t, 20*time.Second, "the agent to be ready", func() bool { return a.ready() == nil })

	// kubectl apply of Calico's manifest after our CRD: the API server's autoregistration keeps the
	// APIService it made for the CRD (label kube-aggregator.kubernetes.io/automanaged) and reverts the
	// change within seconds. Our CRD stays served, Calico's API server would get nothing.
	if out, err := env.Kubectl(ctx, mustYAML(t, apiService), "apply", "-f", "-"); err != nil || !strings.Contains(out, "configured") {
		t.Fatalf("kubectl apply Calico's APIService: %q, %v", out, err)
	}
	testenv.Eventually(t, 30*time.Second, "autoregistration to revert the applied APIService to the local one", func() bool {
		cur := getAPIService(t, env)
		_, hasService := cur.Object["spec"].(map[string]any)["service"]
		return !hasService && cur.GetLabels()["kube-aggregator.kubernetes.io/automanaged"] != ""
	})
	if _, err := rawGet(t, env, "/apis/projectcalico.org/v3/caliconodestatuses"); err != nil {
		t.Fatalf("our CRD after Calico's APIService was applied and reverted: %v", err)
	}

	// Replaced as a whole (kubectl replace, or the tigera-operator's update): no automanaged label, so it
	// stays and shadows our CRD.
	replaced := apiService.DeepCopy()
	replaced.SetResourceVersion(getAPIService(t, env).GetResourceVersion())
	if _, err := env.MustResource(t, replaced).Update(ctx, replaced, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.MustResource(t, replaced).Delete(context.Background(), replaced.GetName(), metav1.DeleteOptions{})
	})

	// What the API server does: the CRD is still installed and Established, but every request for the
	// group version answers 503 (discovery, list, get, status writes).
	testenv.Eventually(t, 30*time.Second, "projectcalico.org/v3 to answer 503", func() bool {
		_, err := rawGet(t, env, "/apis/projectcalico.org/v3/caliconodestatuses")
		return apierrors.IsServiceUnavailable(err)
	})
	crd := getCRD(t, env)
	if !crdCondition(crd, "Established") {
		t.Fatalf("the shadowed CRD is not Established: %v", crd.Object["status"])
	}
	if _, err := rawGet(t, env, "/apis/projectcalico.org/v3"); !apierrors.IsServiceUnavailable(err) {
		t.Fatalf("discovery of the shadowed group version: %v, want 503", err)
	}

	// What the agent says: not ready, with the reason and what to do; the metric; its log. It finds out at
	// its next request: the watch's next list or a status write (here: BIRD changes, so it writes).
	src.set(nodeSnapshot("10.41.0.1", "Active"))
	testenv.Eventually(t, 30*time.Second, "the agent to find the APIService", func() bool {
		rep, bad := a.checker.Problem()
		return bad && rep.Problem == apicheck.ServedByAPIService
	})
	err := a.ready()
	if err == nil {
		t.Fatal("the agent is ready while its API is shadowed")
	}
	for _, w := range []string{"ServedByAPIService", "APIService v3.projectcalico.org", "Calico's API server", "kubectl delete apiservice v3.projectcalico.org"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("readiness says %q, without %q", err, w)
		}
	}
	if v := a.problemMetric(apicheck.ServedByAPIService); v != 1 {
		t.Errorf("api_problem{problem=ServedByAPIService} = %v, want 1", v)
	}
	if !strings.Contains(a.logs.String(), `"problem":"ServedByAPIService"`) {
		t.Errorf("the agent's log does not say it:\n%s", a.logs.String())
	}
	// With the agent's own permissions (no read of APIServices or CRDs) the check still finds it, from
	// discovery's 503.
	agentUser, err := env.AddUser("system:serviceaccount:calico-node-status:calico-node-status-agent")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := apicheck.NewClient(agentUser.Config)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := apicheck.Check(ctx, rc); err != nil || rep.Problem != apicheck.ServedByAPIService || !strings.Contains(rep.Message, "503") {
		t.Fatalf("check without permissions: %+v, %v", rep, err)
	}

	// An agent started while the group is shadowed says so from its first check.
	src2 := &scriptedSource{snap: nodeSnapshot("10.41.0.2", "Established")}
	b := startAgent(t, env, "sh-calico-node-2", src2, agentSetup{heartbeat: time.Hour, besideCalico: true, otherWriterQuiet: time.Hour})
	testenv.Eventually(t, 20*time.Second, "the second agent's first check", func() bool {
		rep, bad := b.checker.Problem()
		return bad && rep.Problem == apicheck.ServedByAPIService
	})
	if b.ready() == nil {
		t.Fatal("an agent started while the group is shadowed is ready")
	}

	// The APIService goes: the API server serves our CRD again (data kept), both agents recover by
	// themselves and write again.
	if err := env.MustResource(t, replaced).Delete(ctx, replaced.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ag := range []*runningAgent{a, b} {
		testenv.Eventually(t, 60*time.Second, "the agents to be ready again", func() bool { return ag.ready() == nil })
		if v := ag.problemMetric(apicheck.ServedByAPIService); v != 0 {
			t.Errorf("api_problem{problem=ServedByAPIService} = %v after recovery, want 0", v)
		}
	}
	testenv.Eventually(t, 60*time.Second, "the agent to write the change made while shadowed", func() bool {
		g := get(t, cs, o.Name)
		return g.Status.BGP != nil && g.Status.BGP.NumberEstablishedV4 == 1
	})
}

func getAPIService(t *testing.T, env *testenv.Env) *unstructured.Unstructured {
	t.Helper()
	return getObject(t, env, schema.GroupVersionKind{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}, apicheck.APIServiceName)
}

// getCRD reads the CustomResourceDefinition of caliconodestatuses.projectcalico.org, whoever's it is.
func getCRD(t *testing.T, env *testenv.Env) *unstructured.Unstructured {
	t.Helper()
	return getObject(t, env, schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}, apicheck.CRDName)
}

// getObject reads a cluster-scoped object of any kind.
func getObject(t *testing.T, env *testenv.Env, gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	got, err := env.MustResource(t, u).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func crdCondition(crd *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

func mustYAML(t *testing.T, o *unstructured.Unstructured) string {
	t.Helper()
	b, err := json.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) // JSON is YAML
}

// TestAPIServer_CalicoNativeCRDInsteadOfOurs runs the agent where Calico 3.32's native CalicoNodeStatus CRD
// is installed instead of ours (same name; no status subresource, no selectable field).
func TestAPIServer_CalicoNativeCRDInsteadOfOurs(t *testing.T) {
	native := testenv.CalicoFixture(t, testenv.CalicoNativeCRD)
	env := testenv.StartForTest(t, testenv.Options{CRDPaths: []string{native}})
	cs := cns(env)
	ctx := context.Background()
	o := createObject(t, cs, "nat-obj", "nat-node", 1, classesAll())

	// What the API server does with Calico's CRD: the watch's field selector is refused (400), and a
	// status write answers a bare 404 that names the object, although the object exists.
	if _, err := rawGet(t, env, "/apis/projectcalico.org/v3/caliconodestatuses", "fieldSelector", "spec.node=nat-node"); !apierrors.IsBadRequest(err) {
		t.Fatalf("list with the field selector on Calico's CRD: %v, want 400", err)
	}
	cur := get(t, cs, o.Name)
	if _, err := cs.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("status write on Calico's CRD: %v, want 404", err)
	}

	src := &scriptedSource{snap: nodeSnapshot("10.42.0.1", "Established")}
	a := startAgent(t, env, "nat-node", src, agentSetup{heartbeat: time.Hour, besideCalico: true, otherWriterQuiet: time.Hour})
	testenv.Eventually(t, 30*time.Second, "the agent to find Calico's CRD", func() bool {
		rep, bad := a.checker.Problem()
		return bad && rep.Problem == apicheck.NoStatusSubresource
	})
	err := a.ready()
	if err == nil {
		t.Fatal("the agent is ready on Calico's CRD")
	}
	for _, w := range []string{"NoStatusSubresource", "status subresource", "Calico", "kubectl replace -f config/crd/bases/projectcalico.org_caliconodestatuses.yaml"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("readiness says %q, without %q", err, w)
		}
	}
	if v := a.problemMetric(apicheck.NoStatusSubresource); v != 1 {
		t.Errorf("api_problem{problem=NoStatusSubresource} = %v, want 1", v)
	}
	if !strings.Contains(a.logs.String(), `"problem":"NoStatusSubresource"`) {
		t.Errorf("the agent's log does not say it:\n%s", a.logs.String())
	}
	if n := src.count(); n != 0 {
		t.Errorf("the agent collected %d times without being able to watch", n)
	}

	// Calico's CRD with the selectable field added (as a later Calico might ship it): the watch works, and
	// the status write's 404 is taken for what it is, not for a deleted object. The agent says so in an
	// Event on the object and keeps retrying with backoff.
	crd := getCRD(t, env)
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	versions[0].(map[string]any)["selectableFields"] = []any{map[string]any{"jsonPath": ".spec.node"}}
	if err := unstructured.SetNestedSlice(crd.Object, versions, "spec", "versions"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.MustResource(t, crd).Update(ctx, crd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "a StatusNotWritable Event", func() bool {
		return len(eventsFor(t, env, o.Name, EventStatusNotWritable)) > 0
	})
	ev := eventsFor(t, env, o.Name, EventStatusNotWritable)[0]
	for _, w := range []string{"status subresource", "404", "Calico"} {
		if !strings.Contains(ev.Note, w) {
			t.Errorf("Event note %q lacks %q", ev.Note, w)
		}
	}
	if rep, bad := a.checker.Problem(); !bad || rep.Problem != apicheck.NoStatusSubresource {
		t.Errorf("API check after a 404 on /status: %+v", rep)
	}
	base := src.count()
	testenv.Eventually(t, 30*time.Second, "the agent to retry the object", func() bool { return src.count() > base })
	if !strings.Contains(a.logs.String(), "the object exists but its status subresource does not") {
		t.Errorf("the agent's log does not say why the write failed:\n%s", a.logs.String())
	}
}

// calicoNodeClient writes CalicoNodeStatus objects the way calico-node's reporter does: libcalico-go's
// REST client sets no user agent, so Go's default is sent and the API server names the field manager
// after it; it sends no fieldManager.
func calicoNodeClient(t *testing.T, env *testenv.Env) rest.Interface {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.UserAgent = ""
	cfg.GroupVersion = &v3.GroupVersion
	cfg.APIPath = "/apis"
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(env.Scheme).WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// calicoStatus is a status with only the fields Calico's own types have.
func calicoStatus(established int) v3.CalicoNodeStatusStatus {
	return v3.CalicoNodeStatusStatus{
		LastUpdated: metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
		Agent:       &v3.CalicoNodeAgentStatus{BIRDV4: &v3.BGPDaemonStatus{State: v3.BGPDaemonStateReady, Version: "v0.3.3+birdv1.6.8", RouterID: "10.43.0.1"}},
		BGP: &v3.CalicoNodeBGPStatus{NumberEstablishedV4: established, PeersV4: []v3.CalicoNodePeer{
			{PeerIP: "10.43.0.2", Type: v3.BGPPeerTypeNodeMesh, State: v3.BGPSessionStateEstablished, Since: "09:00:00"}}},
	}
}

// writeAsCalicoNode PUTs obj (to its status subresource when sub is "status") as calico-node would.
func writeAsCalicoNode(t *testing.T, rc rest.Interface, obj *v3.CalicoNodeStatus, sub string) *v3.CalicoNodeStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := rc.Put().Resource("caliconodestatuses").Name(obj.Name).Body(obj)
	if sub != "" {
		req = req.SubResource(sub)
	}
	out := &v3.CalicoNodeStatus{}
	if err := req.Do(ctx).Into(out); err != nil {
		t.Fatalf("PUT as calico-node (%q): %v", sub, err)
	}
	return out
}

// TestAPIServer_AgentLeavesAnObjectToAnotherStatusWriter: calico-node's reporter writing the same object.
// Calico 3.32's reporter replaces the whole object (PUT without the status subresource): on our CRD the
// API server drops the status of such a write, so it cannot fight. Calico 3.33's reporter writes the
// status subresource: the agent sees the other manager in managedFields, says so (conditions, Event,
// log, metric), stops writing the object, and writes again once the other writer has been quiet.
func TestAPIServer_AgentLeavesAnObjectToAnotherStatusWriter(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	const quiet = 10 * time.Second
	src := &scriptedSource{snap: nodeSnapshot("10.43.0.1", "Established")}
	a := startAgent(t, env, "ow-node", src, agentSetup{heartbeat: time.Hour, besideCalico: true, otherWriterQuiet: quiet})
	o := createObject(t, c, "ow-obj", "ow-node", 1, classesAll())
	driver := createObject(t, c, "ow-driver", "ow-node", 1, classesAll()) // keeps the node collecting
	waitCollected(t, c, o)
	waitCollected(t, c, driver)
	cn := calicoNodeClient(t, env)

	// 3.32: a full PUT with calico-node's status: the status is dropped, no managedFields entry, no hold.
	cur := get(t, c, o.Name)
	before := cur.Status
	cur.Status = calicoStatus(7)
	stored := writeAsCalicoNode(t, cn, cur, "")
	if !status.SameContent(stored.Status, before) {
		t.Fatalf("a full PUT changed the status on our CRD (status subresource): %+v", stored.Status.BGP)
	}
	if w, ok := otherStatusWriter(stored); ok {
		t.Fatalf("a full PUT left a status entry in managedFields: %+v", w)
	}

	// 3.33: calico-node writes the status subresource.
	cur = get(t, c, o.Name)
	cur.Status = calicoStatus(7)
	stored = writeAsCalicoNode(t, cn, cur, "status")
	w, ok := otherStatusWriter(stored)
	if !ok || w.manager != CalicoNodeManager || w.subresource != "status" {
		t.Fatalf("calico-node's status write is in managedFields as %+v (found %v), want manager %q of /status", w, ok, CalicoNodeManager)
	}
	testenv.Eventually(t, 20*time.Second, "OtherWriter=True on the object", func() bool {
		c := meta.FindStatusCondition(get(t, c, o.Name).Status.Conditions, v3.ConditionOtherWriter)
		return c != nil && c.Status == metav1.ConditionTrue
	})
	held := get(t, c, o.Name)
	ow := meta.FindStatusCondition(held.Status.Conditions, v3.ConditionOtherWriter)
	ready := meta.FindStatusCondition(held.Status.Conditions, v3.ConditionReady)
	if ow.Reason != v3.ReasonStatusWrittenByOther || !strings.Contains(ow.Message, `"Go-http-client"`) || !strings.Contains(ow.Message, "calico-node") {
		t.Errorf("OtherWriter condition: %+v", ow)
	}
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != v3.ReasonStatusWrittenByOther {
		t.Errorf("Ready while another writer writes: %+v", ready)
	}
	if held.Status.BGP == nil || held.Status.BGP.NumberEstablishedV4 != 7 {
		t.Errorf("the agent overwrote the other writer's status: %+v", held.Status.BGP)
	}
	testenv.Eventually(t, 20*time.Second, "an OtherStatusWriter Event", func() bool { return len(eventsFor(t, env, o.Name, EventOtherStatusWriter)) == 1 })
	if ev := eventsFor(t, env, o.Name, EventOtherStatusWriter)[0]; ev.Type != "Warning" || !strings.Contains(ev.Note, "Go-http-client") {
		t.Errorf("Event: %s %q", ev.Type, ev.Note)
	}
	if !strings.Contains(a.logs.String(), "another writer writes this object's status") || !strings.Contains(a.logs.String(), `"manager":"Go-http-client"`) {
		t.Errorf("the agent's log does not say it:\n%s", a.logs.String())
	}
	if v := testutil.ToFloat64(a.metrics.beside.otherWriters); v != 1 {
		t.Errorf("objects_with_other_writer = %v, want 1", v)
	}

	// While held: BIRD changes; the other object of the node takes the change at its next periods, the
	// held one nothing.
	writes := watchWrites(t, env, held)
	src.set(nodeSnapshot("10.43.0.1", "Active"))
	testenv.Eventually(t, quiet/2, "the node's other object to take the change", func() bool {
		b := get(t, c, driver.Name).Status.BGP
		return b != nil && b.NumberEstablishedV4 == 1
	})
	calls := src.count()
	testenv.Eventually(t, quiet/2, "two more collections of the node", func() bool { return src.count() >= calls+2 })
	if n := writes(); n != 0 {
		t.Errorf("%d writes while another writer holds the object", n)
	}
	if g := get(t, c, o.Name); g.Status.BGP == nil || g.Status.BGP.NumberEstablishedV4 != 7 {
		t.Errorf("the held object changed: %+v", g.Status.BGP)
	}

	// The other writer stays quiet: the agent writes again, without the OtherWriter condition.
	testenv.Eventually(t, 4*quiet, "the agent to write again after the quiet period", func() bool {
		g := get(t, c, o.Name)
		r := meta.FindStatusCondition(g.Status.Conditions, v3.ConditionReady)
		return g.Status.BGP != nil && g.Status.BGP.NumberEstablishedV4 == 1 && r != nil && r.Reason != v3.ReasonStatusWrittenByOther &&
			meta.FindStatusCondition(g.Status.Conditions, v3.ConditionOtherWriter) == nil
	})
	if len(eventsFor(t, env, o.Name, EventOtherStatusWriterGone)) == 0 {
		t.Error("no OtherStatusWriterGone Event")
	}
	if v := testutil.ToFloat64(a.metrics.beside.otherWriters); v != 0 {
		t.Errorf("objects_with_other_writer = %v after resuming, want 0", v)
	}

	// It writes again: held again at once (the watch shows the new managedFields entry).
	cur = get(t, c, o.Name)
	cur.Status = calicoStatus(9)
	writeAsCalicoNode(t, cn, cur, "status")
	testenv.Eventually(t, 10*time.Second, "the agent to leave the object again", func() bool {
		c := meta.FindStatusCondition(get(t, c, o.Name).Status.Conditions, v3.ConditionOtherWriter)
		return c != nil && c.Status == metav1.ConditionTrue && testutil.ToFloat64(a.metrics.beside.otherWriters) == 1
	})
}

// TestAPIServer_AgentWritesAgainWhenTheOtherWritersEntryIsGone: with a quiet period far longer than the
// test, only the other manager's managedFields entry going away can let the agent write again.
func TestAPIServer_AgentWritesAgainWhenTheOtherWritersEntryIsGone(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	src := &scriptedSource{snap: nodeSnapshot("10.44.0.1", "Established")}
	a := startAgent(t, env, "og-node", src, agentSetup{heartbeat: time.Hour, besideCalico: true, otherWriterQuiet: time.Hour})
	o := createObject(t, c, "og-obj", "og-node", 1, classesAll())
	waitCollected(t, c, o)
	cur := get(t, c, o.Name)
	cur.Status = calicoStatus(5)
	writeAsCalicoNode(t, calicoNodeClient(t, env), cur, "status")
	testenv.Eventually(t, 20*time.Second, "the agent to leave the object", func() bool { return testutil.ToFloat64(a.metrics.beside.otherWriters) == 1 })

	// An administrator clears managedFields (a list with one empty entry resets it).
	patch := []byte(`{"metadata":{"managedFields":[{}]}}`)
	if _, err := c.Patch(context.Background(), o.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := otherStatusWriter(get(t, c, o.Name)); ok {
		t.Fatalf("managedFields still name another status writer: %+v", get(t, c, o.Name).ManagedFields)
	}
	testenv.Eventually(t, 20*time.Second, "the agent to write again", func() bool {
		g := get(t, c, o.Name)
		return g.Status.BGP != nil && g.Status.BGP.NumberEstablishedV4 == 2 && meta.FindStatusCondition(g.Status.Conditions, v3.ConditionOtherWriter) == nil
	})
	if !strings.Contains(a.logs.String(), "managedFields entry of") {
		t.Errorf("the agent's log does not say why it writes again:\n%s", a.logs.String())
	}
}
