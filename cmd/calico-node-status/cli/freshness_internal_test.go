package cli

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
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
