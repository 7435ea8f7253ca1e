package testenv

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// objects is client-go's way to objects of any kind, unstructured: the dynamic client, and a REST mapper
// from API discovery that says which resource a kind is.
type objects struct {
	dynamic dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

func newObjects(cfg *rest.Config) (*objects, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return &objects{dynamic: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// Resource returns the admin dynamic client of obj's kind, in obj's namespace when the kind is namespaced:
// for objects read or written as unstructured (Calico's CRDs and APIService in the "beside Calico"
// tests). A kind discovery did not know is asked for again, since a CRD may have been installed meanwhile.
func (e *Env) Resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := e.objects.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		e.objects.mapper.Reset()
		m, err = e.objects.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("resource of %s: %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return e.objects.dynamic.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return e.objects.dynamic.Resource(m.Resource), nil
}

// MustResource is Resource, stopping the test when the kind is not served.
func (e *Env) MustResource(t testing.TB, obj *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	r, err := e.Resource(obj)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
