package agent

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	typedv3 "github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned/typed/api/v3"
	listersv3 "github.com/calico-node-status/calico-node-status/pkg/generated/listers/api/v3"
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

// KubeStore reads and writes CalicoNodeStatus objects with the generated typed client of
// projectcalico.org/v3 (pkg/generated) and keeps a watch of only one node's objects (field selector
// spec.node=<node>, a selectable field of the CRD), read through the generated lister.
//
// The agent uses client-go and the generated group client rather than controller-runtime: controller-runtime's
// client and cache alone link about 28 MB of code (every built-in API group's types and clients), and a
// node agent whose whole process must stay under 30 MB of resident memory cannot carry that. For the same
// reason the informer is built here over the typed client, not taken from pkg/generated/informers: those
// take the versioned clientset, whose discovery client links every built-in API group too; measured with
// test/membench (10k routes), the agent's peak RSS was 36.9 MiB with the clientset and generated informer,
// against 28.5 MiB before (mean of 3 runs) and 29.2 MiB with this typed client and lister (mean of 3;
// docs/benchmarks.md, "Memory"): under the 30 MB target, but with little room left.
// The shape is the same: one informer, one rate-limited workqueue (see Controller).
type KubeStore struct {
	client   typedv3.CalicoNodeStatusInterface
	informer cache.SharedIndexInformer
	lister   listersv3.CalicoNodeStatusLister
	// APIChecker, when set, is told how every list and watch request ended (apicheck.go).
	APIChecker *APIChecker
}

// RBAC (config/rbac/cluster_role.yaml is generated from this package's markers): the node's informer
// lists and watches with the field selector spec.node=<node>, and Fresh gets one object. RBAC cannot
// restrict by field: config/admission holds the agent's writes to its own node's objects.
// +kubebuilder:rbac:groups=projectcalico.org,resources=caliconodestatuses,verbs=get;list;watch

// NewKubeStore creates the typed client of projectcalico.org/v3 and the node's informer.
func NewKubeStore(cfg *rest.Config, nodeName string) (*KubeStore, error) {
	c := rest.CopyConfig(cfg)
	if c.UserAgent == "" {
		c.UserAgent = FieldOwner
	}
	group, err := typedv3.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("client for projectcalico.org/v3: %w", err)
	}
	client := group.CalicoNodeStatuses()
	selector := fields.OneTermEqualSelector("spec.node", nodeName).String()
	s := &KubeStore{client: client}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = selector
			list, err := client.List(ctx, opts)
			s.APIChecker.Observe(err)
			return list, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = selector
			w, err := client.Watch(ctx, opts)
			if err != nil {
				s.APIChecker.Observe(err)
			}
			return w, err
		},
	}
	s.informer = cache.NewSharedIndexInformer(lw, &v3.CalicoNodeStatus{}, 0, cache.Indexers{})
	s.lister = listersv3.NewCalicoNodeStatusLister(s.informer.GetIndexer())
	return s, nil
}

// Informer is the node's watch; Controller runs it and takes its events.
func (s *KubeStore) Informer() cache.SharedIndexInformer { return s.informer }

// Cached implements Store.
func (s *KubeStore) Cached(name string) (*v3.CalicoNodeStatus, error) {
	obj, err := s.lister.Get(name)
	if err != nil {
		return nil, err // NotFound, from the lister
	}
	return obj.DeepCopy(), nil
}

// List implements Store. The objects are the cache's own: callers must not modify them.
func (s *KubeStore) List() []*v3.CalicoNodeStatus {
	out, _ := s.lister.List(labels.Everything()) // the cache's List cannot fail
	return out
}

// Fresh implements Store.
func (s *KubeStore) Fresh(ctx context.Context, name string) (*v3.CalicoNodeStatus, error) {
	return s.client.Get(ctx, name, metav1.GetOptions{})
}

// RBAC: status writes go through the status subresource only, never spec, never create or delete, and
// only as a PUT (update): a patch costs the API server as much or more (docs/benchmarks.md, "Cheaper
// writes"), so the role has no patch.
// +kubebuilder:rbac:groups=projectcalico.org,resources=caliconodestatuses/status,verbs=update

// UpdateStatus implements Store with a PUT of the status subresource: the API server checks the
// resourceVersion, and sections the object no longer has are removed.
func (s *KubeStore) UpdateStatus(ctx context.Context, obj *v3.CalicoNodeStatus) (*v3.CalicoNodeStatus, error) {
	return s.client.UpdateStatus(ctx, obj, metav1.UpdateOptions{FieldManager: FieldOwner})
}
