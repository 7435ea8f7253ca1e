package agent

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Store is how the reconciler reads and writes CalicoNodeStatus objects. KubeStore implements it on the
// API server.
type Store interface {
	// Cached returns the object as the node's watch last saw it (a NotFound error when it is gone or
	// belongs to another node).
	Cached(name string) (*v3.CalicoNodeStatus, error)
	// List returns the node's objects as the watch last saw them.
	List() []*v3.CalicoNodeStatus
	// Fresh reads the object from the API server.
	Fresh(ctx context.Context, name string) (*v3.CalicoNodeStatus, error)
	// UpdateStatus writes obj's status through the status subresource, conditional on obj's
	// resourceVersion (a Conflict error when the object changed meanwhile), and returns the stored object.
	UpdateStatus(ctx context.Context, obj *v3.CalicoNodeStatus) (*v3.CalicoNodeStatus, error)
}

const resource = "caliconodestatuses"

// KubeStore reads and writes CalicoNodeStatus objects with client-go's REST client and keeps a watch of
// only one node's objects (field selector spec.node=<node>, a selectable field of the CRD).
//
// The agent uses client-go directly rather than controller-runtime: controller-runtime's client and cache
// alone link about 28 MB of code (every built-in API group's types and clients), and a node agent whose
// whole process must stay under 30 MB of resident memory cannot carry that. The shape is the same:
// one informer, one rate-limited workqueue (see Controller).
type KubeStore struct {
	rest     rest.Interface
	informer cache.SharedIndexInformer
	// APIChecker, when set, is told how every list and watch request ended (apicheck.go).
	APIChecker *APIChecker
}

// RBAC (config/rbac/cluster_role.yaml is generated from this package's markers): the node's informer
// lists and watches with the field selector spec.node=<node>, and Fresh gets one object. RBAC cannot
// restrict by field: config/admission holds the agent's writes to its own node's objects.
// +kubebuilder:rbac:groups=projectcalico.org,resources=caliconodestatuses,verbs=get;list;watch

// NewKubeStore creates the REST client for projectcalico.org/v3 and the node's informer.
func NewKubeStore(cfg *rest.Config, nodeName string) (*KubeStore, error) {
	scheme := runtime.NewScheme()
	if err := v3.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("register projectcalico.org/v3: %w", err)
	}
	metav1.AddToGroupVersion(scheme, v3.GroupVersion)
	c := rest.CopyConfig(cfg)
	gv := v3.GroupVersion
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = FieldOwner
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("REST client for projectcalico.org/v3: %w", err)
	}
	selector := fields.OneTermEqualSelector("spec.node", nodeName).String()
	paramCodec := runtime.NewParameterCodec(scheme)
	s := &KubeStore{rest: rc}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			list := &v3.CalicoNodeStatusList{}
			err := rc.Get().Resource(resource).VersionedParams(&opts, paramCodec).Do(ctx).Into(list)
			s.APIChecker.Observe(err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			opts.Watch = true
			w, err := rc.Get().Resource(resource).VersionedParams(&opts, paramCodec).Watch(ctx)
			if err != nil {
				s.APIChecker.Observe(err)
			}
			return w, err
		},
	}
	s.informer = cache.NewSharedIndexInformer(lw, &v3.CalicoNodeStatus{}, 0, cache.Indexers{})
	return s, nil
}

// Informer is the node's watch; Controller runs it and takes its events.
func (s *KubeStore) Informer() cache.SharedIndexInformer { return s.informer }

var groupResource = schema.GroupResource{Group: v3.GroupVersion.Group, Resource: resource}

// Cached implements Store.
func (s *KubeStore) Cached(name string) (*v3.CalicoNodeStatus, error) {
	item, ok, err := s.informer.GetIndexer().GetByKey(name)
	if err != nil {
		return nil, fmt.Errorf("read caliconodestatus %s from the watch cache: %w", name, err)
	}
	if !ok {
		return nil, apierrors.NewNotFound(groupResource, name)
	}
	return item.(*v3.CalicoNodeStatus).DeepCopy(), nil
}

// List implements Store. The objects are the cache's own: callers must not modify them.
func (s *KubeStore) List() []*v3.CalicoNodeStatus {
	items := s.informer.GetIndexer().List()
	out := make([]*v3.CalicoNodeStatus, 0, len(items))
	for _, it := range items {
		out = append(out, it.(*v3.CalicoNodeStatus))
	}
	return out
}

// Fresh implements Store.
func (s *KubeStore) Fresh(ctx context.Context, name string) (*v3.CalicoNodeStatus, error) {
	out := &v3.CalicoNodeStatus{}
	if err := s.rest.Get().Resource(resource).Name(name).Do(ctx).Into(out); err != nil {
		return nil, err
	}
	return out, nil
}

// RBAC: status writes go through the status subresource only, never spec, never create or delete. The
// agent PUTs (update); patch is granted too, as it always was, for a writer that patches the status.
// +kubebuilder:rbac:groups=projectcalico.org,resources=caliconodestatuses/status,verbs=update;patch

// UpdateStatus implements Store with a PUT of the status subresource: the API server checks the
// resourceVersion, and sections the object no longer has are removed.
func (s *KubeStore) UpdateStatus(ctx context.Context, obj *v3.CalicoNodeStatus) (*v3.CalicoNodeStatus, error) {
	out := &v3.CalicoNodeStatus{}
	err := s.rest.Put().Resource(resource).Name(obj.Name).SubResource("status").
		Param("fieldManager", FieldOwner).Body(obj).Do(ctx).Into(out)
	if err != nil {
		return nil, err
	}
	return out, nil
}
