package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

// CalicoVersion is the Calico release whose own manifests the API tier's "beside Calico" cases install.
const CalicoVersion = "v3.32.1"

// Files in the Calico fixtures directory (hack/calico-fixtures.sh writes them; nothing of Calico is kept in
// this repository).
const (
	// CalicoNativeCRD is Calico's native projectcalico.org/v3 CalicoNodeStatus CRD (tech preview in 3.32):
	// same group, kind and name as ours, no status subresource.
	CalicoNativeCRD = "native-v3/projectcalico.org_caliconodestatuses.yaml"
	// CalicoV1CRDDir holds some of Calico's crd.projectcalico.org/v1 CRDs (the ones calico-node uses by
	// default), CalicoNodeStatus among them.
	CalicoV1CRDDir = "crd-v1"
	// CalicoAPIServerManifest is Calico's API server manifest; its APIService v3.projectcalico.org serves
	// projectcalico.org/v3 from calico-apiserver.
	CalicoAPIServerManifest = "apiserver/apiserver.yaml"
)

// CalicoFixturesHint says how to provide the fixtures.
const CalicoFixturesHint = "make calico-fixtures CALICO_SRC=<a git clone of github.com/projectcalico/calico> extracts Calico " +
	CalicoVersion + "'s manifests into the cache; CNS_CALICO_FIXTURES names another directory"

// CalicoFixturesDir returns the directory of Calico's manifests: $CNS_CALICO_FIXTURES, or
// $CNS_CACHE_DIR/calico-fixtures/<CalicoVersion> (CNS_CACHE_DIR defaults as in the Makefile).
func CalicoFixturesDir() string {
	if d := os.Getenv("CNS_CALICO_FIXTURES"); d != "" {
		return d
	}
	cache := os.Getenv("CNS_CACHE_DIR")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "calico-node-status")
	}
	return filepath.Join(cache, "calico-fixtures", CalicoVersion)
}

// CalicoFixture returns the path of one Calico fixture file or directory, or stops the test (skip locally,
// fail under CI=true) naming the make target that provides it.
func CalicoFixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(CalicoFixturesDir(), rel)
	_, err := os.Stat(p)
	prereq.Require(t, err == nil, "Calico "+CalicoVersion+"'s manifests ("+p+")", CalicoFixturesHint)
	return p
}

// CalicoObjects reads the Kubernetes objects of a Calico manifest file (several YAML documents) or of
// every .yaml file of a directory.
func CalicoObjects(t testing.TB, rel string) []*unstructured.Unstructured {
	t.Helper()
	p := CalicoFixture(t, rel)
	files := []string{p}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		m, err := filepath.Glob(filepath.Join(p, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		files = m
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		objs, err := readObjects(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objs...)
	}
	if len(out) == 0 {
		t.Fatalf("no objects in %s", p)
	}
	return out
}

// CalicoObject returns the one object of kind and name in a Calico manifest.
func CalicoObject(t testing.TB, rel, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range CalicoObjects(t, rel) {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s in %s", kind, name, CalicoFixture(t, rel))
	return nil
}

func readObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read Calico manifest: %w", err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// Apply creates objs, or replaces them when they exist (keeping nothing of the stored object but its
// resourceVersion), as an administrator installing a manifest would.
func (e *Env) Apply(ctx context.Context, objs ...*unstructured.Unstructured) error {
	for _, o := range objs {
		o = o.DeepCopy()
		r, err := e.Resource(o)
		if err == nil {
			_, err = r.Create(ctx, o, metav1.CreateOptions{})
		}
		if apierrors.IsAlreadyExists(err) {
			var cur *unstructured.Unstructured
			if cur, err = r.Get(ctx, o.GetName(), metav1.GetOptions{}); err == nil {
				o.SetResourceVersion(cur.GetResourceVersion())
				_, err = r.Update(ctx, o, metav1.UpdateOptions{})
			}
		}
		if err != nil {
			return fmt.Errorf("apply %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

// StartForTest starts a control plane of the test's own (for tests that change what serves
// projectcalico.org/v3, which would disturb the tests sharing one) and stops it when the test ends. It
// stops the test like Shared when the control plane cannot start.
func StartForTest(t testing.TB, opts Options) *Env {
	t.Helper()
	e, err := Start(opts)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	prereq.Require(t, err == nil, "a real control plane: "+msg, "make controlplane builds kube-apiserver, etcd and kubectl")
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stop the test's control plane: %v", err)
		}
	})
	return e
}
