package cli

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/calico-node-status/calico-node-status/internal/mesh"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

// TestPodReaderReadsEachNamespaceOnce: for peers and mesh (an object per node) the agent Pods are read
// with one LIST per namespace, however many statuses name them; for get with one GET per Pod, each once.
func TestPodReaderReadsEachNamespaceOnce(t *testing.T) {
	pod := func(ns, name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	count := func(cs *fake.Clientset, verb string) int {
		n := 0
		for _, a := range cs.Actions() {
			if a.GetVerb() == verb && a.GetResource().Resource == "pods" {
				n++
			}
		}
		return n
	}

	cs := fake.NewClientset(pod("cns", "agent-a"), pod("cns", "agent-b"), pod("other", "agent-c"))
	read := podReader(cs, true)
	for _, name := range []string{"agent-a", "agent-b", "agent-a", "agent-gone"} {
		p, err := read("cns", name)
		switch {
		case name == "agent-gone" && !apierrors.IsNotFound(err):
			t.Errorf("%s: %v, want NotFound", name, err)
		case name != "agent-gone" && (err != nil || p.Name != name):
			t.Errorf("%s: %v, %v", name, p, err)
		}
	}
	if _, err := read("other", "agent-c"); err != nil {
		t.Error(err)
	}
	if n, g := count(cs, "list"), count(cs, "get"); n != 2 || g != 0 {
		t.Errorf("list mode: %d lists and %d gets, want one list per namespace (2) and no get", n, g)
	}

	cs = fake.NewClientset(pod("cns", "agent-a"))
	read = podReader(cs, false)
	for range 3 {
		if _, err := read("cns", "agent-a"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := read("cns", "agent-gone"); !apierrors.IsNotFound(err) {
		t.Errorf("a missing Pod: %v, want NotFound", err)
	}
	if n, g := count(cs, "list"), count(cs, "get"); n != 0 || g != 2 {
		t.Errorf("get mode: %d lists and %d gets, want 2 gets (each Pod once)", n, g)
	}
}

// TestMeshIsNotVerifiedOnStatusesOfUnknownFreshness: a mesh with nothing broken is healthy only when every
// node's status is known to be current; an agent Pod that could not be read leaves it unverified.
func TestMeshIsNotVerifiedOnStatusesOfUnknownFreshness(t *testing.T) {
	fresh := printer.NodeReport{Node: "n1", Object: "n1-status"}
	unknown := printer.NodeReport{Node: "n2", Object: "n2-status",
		Assessment: printer.Assessment{Unknown: []string{"freshness unknown: cannot read pod cns/agent-b: forbidden"}}}
	var buf bytes.Buffer
	if err := meshExitFresh(mesh.Result{}, []printer.NodeReport{fresh}, &buf); err != nil || buf.Len() != 0 {
		t.Errorf("every status current: %v, stderr %q; want exit 0 and nothing said", err, buf.String())
	}
	err := meshExitFresh(mesh.Result{}, []printer.NodeReport{fresh, unknown}, &buf)
	if ExitCode(err) != ExitMeshUnverified || !strings.Contains(buf.String(), "node n2: n2-status: freshness unknown: cannot read pod cns/agent-b") {
		t.Errorf("one status of unknown freshness: exit %d (%v), stderr %q; want %d and the node named", ExitCode(err), err, buf.String(), ExitMeshUnverified)
	}
}
