package v3_test

// Tier "API": these tests run against a real kube-apiserver + etcd (internal/testenv) with the CRD generated
// from this package installed, so validation, the status subresource, field selectors and printer columns
// are the API server's own behaviour, not a fake's.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	typedv3 "github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned/typed/api/v3"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Options{})) }

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func period(s int32) *int32 { return &s }

// cns is the admin client of CalicoNodeStatus objects (the generated clientset).
func cns(env *testenv.Env) typedv3.CalicoNodeStatusInterface {
	return env.Clientset.ProjectcalicoV3().CalicoNodeStatuses()
}

// create creates obj and deletes it when the test ends; it returns the stored object.
func create(t *testing.T, c typedv3.CalicoNodeStatusInterface, obj *v3.CalicoNodeStatus) *v3.CalicoNodeStatus {
	t.Helper()
	out, err := c.Create(ctxFor(t), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), obj.Name, metav1.DeleteOptions{}) })
	return out
}

func newStatus(name, node string) *v3.CalicoNodeStatus {
	return &v3.CalicoNodeStatus{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.CalicoNodeStatusSpec{
			Node:                node,
			Classes:             []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes},
			UpdatePeriodSeconds: period(10),
		},
	}
}

func contractStatus(t *testing.T) v3.CalicoNodeStatusStatus {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "contract-example-status.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var st v3.CalicoNodeStatusStatus
	if err := yaml.UnmarshalStrict(data, &st); err != nil {
		t.Fatalf("contract example status does not fit the Go types: %v", err)
	}
	return st
}

func TestAPIServer_ContractExampleAppliesWithKubectlAndReadsBackUnchanged(t *testing.T) {
	env := testenv.Shared(t)
	ctx := ctxFor(t)
	sample := filepath.Join(env.RepoRoot, "config", "samples", "projectcalico_v3_caliconodestatus.yaml")
	if out, err := env.Kubectl(ctx, "", "apply", "-f", sample); err != nil || !strings.Contains(out, "created") {
		t.Fatalf("kubectl apply -f %s: %q, %v", sample, out, err)
	}
	t.Cleanup(func() { _, _ = env.Kubectl(context.Background(), "", "delete", "-f", sample) })

	want, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	var wantObj v3.CalicoNodeStatus
	if err := yaml.UnmarshalStrict(want, &wantObj); err != nil {
		t.Fatal(err)
	}
	out, err := env.Kubectl(ctx, "", "get", "caliconodestatus", wantObj.Name, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got v3.CalicoNodeStatus
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("decode kubectl output: %v", err)
	}
	if diff := cmp.Diff(wantObj.Spec, got.Spec); diff != "" {
		t.Errorf("spec read back differs (-applied +read):\n%s", diff)
	}
	if got.APIVersion != "projectcalico.org/v3" || got.Kind != "CalicoNodeStatus" {
		t.Errorf("read back as %s %s", got.APIVersion, got.Kind)
	}
}

func TestAPIServer_StatusSubresourceRoundTripsContractStatus(t *testing.T) {
	env := testenv.Shared(t)
	ctx := ctxFor(t)
	c := cns(env)
	obj := create(t, c, newStatus("status-roundtrip", "node-a"))

	want := contractStatus(t)
	obj.Status = want
	if _, err := c.UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("write contract status through the status subresource: %v", err)
	}
	got, err := c.Get(ctx, obj.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Status); diff != "" {
		t.Errorf("status read back differs (-written +read):\n%s", diff)
	}

	// A spec update does not change status.
	specBefore := got.Spec.DeepCopy()
	got.Spec.UpdatePeriodSeconds = period(30)
	got.Spec.Classes = []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}
	got.Status.BGP = nil // a spec update must ignore this
	if _, err := c.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	afterSpec, err := c.Get(ctx, obj.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, afterSpec.Status); diff != "" {
		t.Errorf("spec update changed status (-before +after):\n%s", diff)
	}
	if *afterSpec.Spec.UpdatePeriodSeconds != 30 {
		t.Errorf("spec update lost: period %d", *afterSpec.Spec.UpdatePeriodSeconds)
	}

	// A status update does not change spec.
	afterSpec.Spec = *specBefore
	afterSpec.Status.Agent = nil
	if _, err := c.UpdateStatus(ctx, afterSpec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	afterStatus, err := c.Get(ctx, obj.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *afterStatus.Spec.UpdatePeriodSeconds != 30 || len(afterStatus.Spec.Classes) != 1 {
		t.Errorf("status update changed spec: %+v", afterStatus.Spec)
	}
	if afterStatus.Status.Agent != nil {
		t.Errorf("status update lost: agent still %+v", afterStatus.Status.Agent)
	}
}

// validObject returns a valid object as a generic map so cases can put wrong types into it.
func validObject(name string) map[string]any {
	return map[string]any{
		"apiVersion": "projectcalico.org/v3",
		"kind":       "CalicoNodeStatus",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"node":                "node-a",
			"classes":             []any{"Agent", "BGP", "Routes"},
			"updatePeriodSeconds": int64(10),
		},
	}
}

func TestAPIServer_RefusesInvalidObjectsNamingTheField(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	spec := func(o map[string]any) map[string]any { return o["spec"].(map[string]any) }
	cases := []struct {
		name   string
		mutate func(o map[string]any)
		// wantField must appear in the API server's message, with wantWord.
		wantField, wantWord string
	}{
		{"unknown class", func(o map[string]any) { spec(o)["classes"] = []any{"Agent", "Felix"} }, "spec.classes[1]", "Unsupported value"},
		{"duplicate class", func(o map[string]any) { spec(o)["classes"] = []any{"BGP", "BGP"} }, "spec.classes[1]", "Duplicate value"},
		{"empty classes", func(o map[string]any) { spec(o)["classes"] = []any{} }, "spec.classes", "at least 1 items"},
		{"missing classes", func(o map[string]any) { delete(spec(o), "classes") }, "spec.classes", "Required value"},
		{"classes not a list", func(o map[string]any) { spec(o)["classes"] = "Agent" }, "spec.classes", "array"},
		{"class lower case", func(o map[string]any) { spec(o)["classes"] = []any{"agent"} }, "spec.classes[0]", "Unsupported value"},
		{"period -1", func(o map[string]any) { spec(o)["updatePeriodSeconds"] = int64(-1) }, "spec.updatePeriodSeconds", "greater than or equal to 0"},
		{"period 86401", func(o map[string]any) { spec(o)["updatePeriodSeconds"] = int64(86401) }, "spec.updatePeriodSeconds", "less than or equal to 86400"},
		{"period as string", func(o map[string]any) { spec(o)["updatePeriodSeconds"] = "10" }, "spec.updatePeriodSeconds", "integer"},
		{"period fractional", func(o map[string]any) { spec(o)["updatePeriodSeconds"] = 1.5 }, "spec.updatePeriodSeconds", "integer"},
		{"missing period", func(o map[string]any) { delete(spec(o), "updatePeriodSeconds") }, "spec.updatePeriodSeconds", "Required value"},
		{"missing node", func(o map[string]any) { delete(spec(o), "node") }, "spec.node", "Required value"},
		{"empty node", func(o map[string]any) { spec(o)["node"] = "" }, "spec.node", "at least 1 chars"},
		{"node with underscore", func(o map[string]any) { spec(o)["node"] = "my_node" }, "spec.node", "should match"},
		{"node upper case", func(o map[string]any) { spec(o)["node"] = "Node-A" }, "spec.node", "should match"},
		{"node too long", func(o map[string]any) { spec(o)["node"] = strings.Repeat("a", 254) }, "spec.node", "Too long"},
		{"missing spec", func(o map[string]any) { delete(o, "spec") }, "spec", "Required value"},
		{"unknown top-level field", func(o map[string]any) { o["specs"] = map[string]any{} }, "specs", "unknown field"},
		{"unknown spec field", func(o map[string]any) { spec(o)["interval"] = int64(5) }, "spec.interval", "unknown field"},
		{"bad object name", func(o map[string]any) { o["metadata"] = map[string]any{"name": "Bad_Name"} }, "metadata.name", "Invalid value"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := validObject(fmt.Sprintf("invalid-%d", i))
			tc.mutate(o)
			// As JSON, not through the Go types, which could not carry the wrong types and unknown fields.
			body, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			err = env.Clientset.ProjectcalicoV3().RESTClient().Post().Resource("caliconodestatuses").
				Param("fieldValidation", metav1.FieldValidationStrict).Body(body).Do(ctxFor(t)).Error()
			if err == nil {
				_ = c.Delete(context.Background(), o["metadata"].(map[string]any)["name"].(string), metav1.DeleteOptions{})
				t.Fatalf("API server accepted an invalid object: %v", o)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("want Invalid/BadRequest, got %v", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.wantField) || !strings.Contains(msg, tc.wantWord) {
				t.Fatalf("message does not name %q with %q: %s", tc.wantField, tc.wantWord, msg)
			}
		})
	}
}

func TestAPIServer_RefusesInvalidStatusNamingTheField(t *testing.T) {
	env := testenv.Shared(t)
	c := cns(env)
	obj := create(t, c, newStatus("invalid-status", "node-a"))

	cases := []struct {
		name, patch, wantField, wantWord string
	}{
		{"daemon state", `{"status":{"agent":{"birdV4":{"state":"Up"}}}}`, "status.agent.birdV4.state", "Unsupported value"},
		{"peer type", `{"status":{"bgp":{"numberEstablishedV4":0,"numberNotEstablishedV4":0,"numberEstablishedV6":0,"numberNotEstablishedV6":0,"peersV4":[{"peerIP":"10.0.0.1","type":"Mesh"}]}}}`, "status.bgp.peersV4[0].type", "Unsupported value"},
		{"peer state", `{"status":{"bgp":{"numberEstablishedV4":0,"numberNotEstablishedV4":0,"numberEstablishedV6":0,"numberNotEstablishedV6":0,"peersV6":[{"peerIP":"fd00::1","state":"Up"}]}}}`, "status.bgp.peersV6[0].state", "Unsupported value"},
		{"count as string", `{"status":{"bgp":{"numberEstablishedV4":"two","numberNotEstablishedV4":0,"numberEstablishedV6":0,"numberNotEstablishedV6":0}}}`, "status.bgp.numberEstablishedV4", "integer"},
		{"route type", `{"status":{"routes":{"routesV4":[{"destination":"10.0.0.0/8","type":"KERNEL"}]}}}`, "status.routes.routesV4[0].type", "Unsupported value"},
		{"route source", `{"status":{"routes":{"routesV6":[{"destination":"fd00::/64","learnedFrom":{"sourceType":"OSPF"}}]}}}`, "status.routes.routesV6[0].learnedFrom.sourceType", "Unsupported value"},
		{"issue family", `{"status":{"routes":{"issues":[{"reason":"X","family":"IPv5"}]}}}`, "status.routes.issues[0].family", "Unsupported value"},
		{"condition without status", `{"status":{"conditions":[{"type":"Ready","reason":"Collected","message":"","lastTransitionTime":"2021-10-18T13:22:03Z"}]}}`, "status.conditions[0].status", "Required value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Patch(ctxFor(t), obj.Name, types.MergePatchType, []byte(tc.patch), metav1.PatchOptions{}, "status")
			if err == nil {
				t.Fatalf("API server accepted invalid status %s", tc.patch)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.wantField) || !strings.Contains(msg, tc.wantWord) {
				t.Fatalf("message does not name %q with %q: %s", tc.wantField, tc.wantWord, msg)
			}
		})
	}
}

func TestAPIServer_FieldSelectorOnSpecNodeListsOnlyThatNode(t *testing.T) {
	env := testenv.Shared(t)
	ctx := ctxFor(t)
	c := cns(env)
	for _, o := range []*v3.CalicoNodeStatus{
		newStatus("sel-a1", "sel-node-a"), newStatus("sel-a2", "sel-node-a"), newStatus("sel-b1", "sel-node-b"),
	} {
		create(t, c, o)
	}
	list, err := c.List(ctx, metav1.ListOptions{FieldSelector: "spec.node=sel-node-a"})
	if err != nil {
		t.Fatalf("list with field selector spec.node: %v", err)
	}
	var names []string
	for _, o := range list.Items {
		names = append(names, o.Name)
	}
	if diff := cmp.Diff([]string{"sel-a1", "sel-a2"}, names); diff != "" {
		t.Errorf("field selector spec.node=sel-node-a listed (-want +got):\n%s", diff)
	}
	// A field that is not selectable is refused by the server, so a typo cannot silently list everything.
	_, err = c.List(ctx, metav1.ListOptions{FieldSelector: "spec.classes=BGP"})
	if err == nil || !strings.Contains(err.Error(), "spec.classes") {
		t.Errorf("field selector on a non-selectable field: want an error naming it, got %v", err)
	}
}

func TestAPIServer_KubectlPrinterColumns(t *testing.T) {
	env := testenv.Shared(t)
	ctx := ctxFor(t)
	c := cns(env)
	obj := create(t, c, newStatus("printer-cols", "printer-node"))
	st := contractStatus(t)
	st.Routes.TotalV4 = len(st.Routes.RoutesV4)
	st.Conditions = []metav1.Condition{{Type: v3.ConditionReady, Status: metav1.ConditionTrue, Reason: v3.ReasonCollected, LastTransitionTime: metav1.Now()}}
	st.Reporter = &v3.StatusReporter{Pod: "agent-x7k2p", Namespace: "calico-node-status", UID: "0b7e7c55-8f0a-4c1e-9a51-3f6f2f3e9d10"}
	obj.Status = st
	if _, err := c.UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	out, err := env.Kubectl(ctx, "", "get", "caliconodestatus", obj.Name)
	if err != nil {
		t.Fatal(err)
	}
	// "Changed", not "Last Updated": lastUpdated moves only when the status changes (an agent in a Pod
	// writes no heartbeat), so the column must not read as a sign of life.
	assertTable(t, out, []string{"NAME", "NODE", "CLASSES", "INTERVAL", "CHANGED", "AGE"},
		[]string{"printer-cols", "printer-node", `["Agent","BGP","Routes"]`, "10"}, []string{"BIRD V4", "READY", "REPORTER", "LAST UPDATED"})

	wide, err := env.Kubectl(ctx, "", "get", "cns", obj.Name, "-o", "wide")
	if err != nil {
		t.Fatal(err)
	}
	assertTable(t, wide, []string{"NODE", "BIRD V4", "BIRD V6", "EST V4", "EST V6", "ROUTES V4", "ROUTES V6", "READY", "REPORTER"},
		[]string{"printer-node", "Ready", "2", "0", "4", "True", "agent-x7k2p"}, nil)
}

// assertTable checks a kubectl table: the header has every wantHeader, no unwantHeader, and the row has
// every wantCell.
func assertTable(t *testing.T, out string, wantHeader, wantCells, unwantHeader []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a header and one row, got:\n%s", out)
	}
	for _, h := range wantHeader {
		if !strings.Contains(lines[0], h) {
			t.Errorf("header lacks %q: %s", h, lines[0])
		}
	}
	for _, h := range unwantHeader {
		if strings.Contains(lines[0], h) {
			t.Errorf("header has %q, which belongs to -o wide only: %s", h, lines[0])
		}
	}
	cells := strings.Fields(lines[1])
	for _, w := range wantCells {
		found := false
		for _, c := range cells {
			if c == w {
				found = true
			}
		}
		if !found {
			t.Errorf("row lacks cell %q: %s", w, lines[1])
		}
	}
}
