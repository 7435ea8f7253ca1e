package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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
	// failures grows the retry delay of an object whose reconcile keeps failing; retryDelay caps it.
	failures workqueue.TypedRateLimiter[string]
	log      *slog.Logger
}

// Retry delays of a failing reconcile: exponential from minRetryDelay, capped at min(period, maxRetryDelay)
// so that an object is never staler after an outage than one period (or a minute) past the outage's end.
// client-go's default controller limiter goes up to 1000 s, a quarter of an hour of stale status.
const (
	minRetryDelay = 200 * time.Millisecond
	maxRetryDelay = time.Minute
)

// NewController wires r to informer (KubeStore.Informer).
func NewController(r *Reconciler, informer cache.SharedIndexInformer, log *slog.Logger) (*Controller, error) {
	c := &Controller{r: r, informer: informer, log: log,
		failures: workqueue.NewTypedItemExponentialFailureRateLimiter[string](minRetryDelay, maxRetryDelay),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "caliconodestatus"})}
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(oldObj, newObj any) {
			// The agent's own status writes come back as updates: only a spec change (generation), a
			// recreated object (UID), or another writer appearing or leaving (foreign.go) needs a run now;
			// the object's schedule takes care of the rest.
			o, ok1 := oldObj.(*v3.CalicoNodeStatus)
			n, ok2 := newObj.(*v3.CalicoNodeStatus)
			if ok1 && ok2 && !needsRunNow(o, n) && !otherWriterChanged(o, n) {
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

// needsRunNow says whether an update seen on the watch needs a reconcile at once. The agent's own status
// writes come back as updates: only a spec change (generation) or another object under the same name (an
// object deleted and recreated while the watch was down arrives as an update after the relist, with a
// new UID and possibly the same generation) needs a run now; the object's schedule takes care of the rest.
func needsRunNow(old, cur *v3.CalicoNodeStatus) bool {
	return old.Generation != cur.Generation || old.UID != cur.UID
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
		delay := retryDelay(c.failures.When(key), c.r.periodOf(key))
		c.log.Error("reconcile failed; retrying with backoff", "caliconodestatus", key, "retryIn", delay, "err", err)
		c.queue.AddAfter(key, delay)
	default:
		c.failures.Forget(key)
		if after > 0 {
			c.queue.AddAfter(key, after)
		}
	}
	return true
}

// retryDelay is the backoff delay capped at the object's period (when refresh is on) and maxRetryDelay.
func retryDelay(backoff, period time.Duration) time.Duration {
	d := min(backoff, maxRetryDelay)
	if period > 0 {
		d = min(d, period)
	}
	return d
}
