package agent

import (
	"context"
	"fmt"
	"log/slog"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Controller feeds the reconciler from the node's watch through one rate-limited workqueue: level
// triggered, one worker, each object requeued for its next grid point, failures retried with backoff. No
// goroutine or ticker per object.
type Controller struct {
	r        *Reconciler
	informer cache.SharedIndexInformer
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
}

// NewController wires r to informer (KubeStore.Informer).
func NewController(r *Reconciler, informer cache.SharedIndexInformer, log *slog.Logger) (*Controller, error) {
	c := &Controller{r: r, informer: informer, log: log,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "caliconodestatus"})}
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(oldObj, newObj any) {
			// The agent's own status writes come back as updates: only a spec change (generation) needs a
			// run now; the object's schedule takes care of the rest.
			o, ok1 := oldObj.(*v3.CalicoNodeStatus)
			n, ok2 := newObj.(*v3.CalicoNodeStatus)
			if ok1 && ok2 && o.Generation == n.Generation {
				return
			}
			c.enqueue(newObj)
		},
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("watch caliconodestatuses: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("queue key", "err", err)
		return
	}
	c.queue.Add(key)
}

// Synced reports whether the watch has listed the node's objects once (readiness).
func (c *Controller) Synced() bool { return c.informer.HasSynced() }

// Run runs the watch and the worker until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	go c.informer.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced) {
		return fmt.Errorf("caliconodestatus watch did not sync: %w", ctx.Err())
	}
	go func() {
		<-ctx.Done()
		c.queue.ShutDown()
	}()
	for c.processNext(ctx) {
	}
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(key)
	after, err := c.r.safeReconcile(ctx, key)
	switch {
	case err != nil:
		c.log.Error("reconcile failed; retrying with backoff", "caliconodestatus", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.queue.Forget(key)
		if after > 0 {
			c.queue.AddAfter(key, after)
		}
	}
	return true
}
