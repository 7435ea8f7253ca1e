package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/calico-node-status/calico-node-status/internal/mesh"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

// podReadTimeout bounds one read of the agent Pods, so a slow API server delays the view, not forever.
const podReadTimeout = 15 * time.Second

// agentPods reads the agent Pods that statuses name (status.reporter), whose readiness says whether a
// status is current (printer.Assess). Each Pod is read at most once per call: with a GET each (get, a
// few objects), or with one LIST per namespace (peers, mesh: an object per node). An error reading is
// returned for every Pod it concerns: the printer then says "freshness unknown" rather than STALE.
func (r *root) agentPods(listPerNamespace bool) printer.Pods {
	// Connected on the first Pod to read: statuses that name none (an agent outside a Pod, a snapshot)
	// cost no connection.
	var once sync.Once
	var read printer.Pods
	return func(ns, name string) (*corev1.Pod, error) {
		once.Do(func() {
			cs, err := r.podClient()
			if err != nil {
				read = func(string, string) (*corev1.Pod, error) { return nil, err }
				return
			}
			read = podReader(cs, listPerNamespace)
		})
		return read(ns, name)
	}
}

func (r *root) podClient() (kubernetes.Interface, error) {
	if r.flags == nil {
		return nil, errors.New("no kubeconfig flags")
	}
	cfg, err := r.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	return cs, nil
}

// podReader is agentPods over a clientset (tests pass a fake one).
func podReader(cs kubernetes.Interface, listPerNamespace bool) printer.Pods {
	type result struct {
		pod *corev1.Pod
		err error
	}
	var mu sync.Mutex
	pods := map[string]result{}  // namespace/name
	listed := map[string]error{} // namespaces listed, with the list's error
	return func(ns, name string) (*corev1.Pod, error) {
		mu.Lock()
		defer mu.Unlock()
		key := ns + "/" + name
		if res, ok := pods[key]; ok {
			return res.pod, res.err
		}
		ctx, cancel := context.WithTimeout(context.Background(), podReadTimeout)
		defer cancel()
		if !listPerNamespace {
			pod, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				err = fmt.Errorf("get pod: %w", err)
			}
			pods[key] = result{pod, err}
			return pod, err
		}
		if lerr, done := listed[ns]; done {
			if lerr != nil {
				return nil, lerr
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
		}
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			listed[ns] = fmt.Errorf("list pods in namespace %s: %w", ns, err)
			return nil, listed[ns]
		}
		listed[ns] = nil
		for i := range l.Items {
			pods[ns+"/"+l.Items[i].Name] = result{pod: &l.Items[i]}
		}
		if res, ok := pods[key]; ok {
			return res.pod, res.err
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
	}
}

// meshExitFresh is meshExit, and when nothing else keeps the mesh from being verified, the nodes whose
// freshness is unknown (their agent Pods could not be read) do: a mesh is never called healthy on
// statuses that may be old. They are named on w.
func meshExitFresh(res mesh.Result, reports []printer.NodeReport, w io.Writer) error {
	var unknown []string
	for _, r := range reports {
		if len(r.Assessment.Unknown) > 0 && len(r.Assessment.Stale) == 0 {
			unknown = append(unknown, r.Node)
			fmt.Fprintf(w, "node %s: %s: %s\n", printer.Escape(r.Node), printer.Escape(r.Object), printer.Escape(strings.Join(r.Assessment.Unknown, "; ")))
		}
	}
	if err := meshExit(res); err != nil || len(unknown) == 0 {
		return err
	}
	return &ExitError{Code: ExitMeshUnverified, Err: fmt.Errorf("mesh: nothing broken seen, but not verified: the freshness of %d node(s)' status is unknown", len(unknown))}
}
