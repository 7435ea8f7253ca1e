package agent

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// ObjectCreator creates a CalicoNodeStatus; KubeStore implements it.
type ObjectCreator interface {
	Create(ctx context.Context, obj *v3.CalicoNodeStatus) error
}

// Create creates obj (the agent's own node's object, --ensure-own-object). RBAC must allow create on
// caliconodestatuses (config/rbac/ensure-own-object); the node isolation policy (config/admission) refuses
// an object of any other node.
func (s *KubeStore) Create(ctx context.Context, obj *v3.CalicoNodeStatus) error {
	_, err := s.client.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldOwner})
	return err
}

// OwnObject makes sure the agent's node has a CalicoNodeStatus, so that a cluster-wide view covers every
// node, new ones included, without anything central: once the node's watch has synced, when the node has
// no object at all (a hand-made one counts), the agent creates v3.ManagedObjectName(node), labelled like
// those of `calico-node-status enable`. It runs once per agent start: an object deleted later (by
// `disable`, say) is not recreated until the agent restarts.
type OwnObject struct {
	Node    string
	Store   Store
	Creator ObjectCreator
	// Synced reports whether the node's watch has listed its objects.
	Synced func() bool
	Log    *slog.Logger
	// MinBackoff and MaxBackoff bound the retries of a failed create (DefaultOwnObjectBackoff and 5 min
	// when 0).
	MinBackoff, MaxBackoff time.Duration
}

// DefaultOwnObjectBackoff is the first wait after a failed create; it doubles up to OwnObject.MaxBackoff.
const DefaultOwnObjectBackoff = time.Second

// Run waits for the watch, then creates the object when none exists, retrying with backoff until it exists
// or ctx ends. It returns the outcome: "created", "exists" or ctx's error.
func (o *OwnObject) Run(ctx context.Context) (string, error) {
	minB, maxB := o.MinBackoff, o.MaxBackoff
	if minB <= 0 {
		minB = DefaultOwnObjectBackoff
	}
	if maxB <= 0 {
		maxB = 5 * time.Minute
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wait := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	for !o.Synced() {
		if err := wait(100 * time.Millisecond); err != nil {
			return "", err
		}
	}
	backoff := minB
	for {
		if objs := o.Store.List(); len(objs) > 0 {
			log.Info("own node has a CalicoNodeStatus; none created", "object", objs[0].Name, "objects", len(objs))
			return "exists", nil
		}
		obj := &v3.CalicoNodeStatus{
			ObjectMeta: metav1.ObjectMeta{Name: v3.ManagedObjectName(o.Node),
				Labels:      map[string]string{v3.LabelManaged: "true"},
				Annotations: map[string]string{v3.AnnotationCreatedBy: "agent"}},
			Spec: v3.CalicoNodeStatusSpec{Node: o.Node, Classes: v3.ManagedClasses(), UpdatePeriodSeconds: ptrTo(v3.ManagedPeriodSeconds)},
		}
		err := o.Creator.Create(ctx, obj)
		switch {
		case err == nil:
			log.Info("created own node's CalicoNodeStatus (--ensure-own-object)", "object", obj.Name)
			return "created", nil
		case apierrors.IsAlreadyExists(err):
			// Made meanwhile by someone else (enable, or a previous run): the watch brings it.
			log.Info("own node's CalicoNodeStatus exists", "object", obj.Name)
			return "exists", nil
		}
		log.Warn("cannot create own node's CalicoNodeStatus (--ensure-own-object); retrying",
			"object", obj.Name, "err", fmt.Errorf("create caliconodestatus %s: %w", obj.Name, err), "retryIn", backoff.String(),
			"hint", "RBAC create on caliconodestatuses (config/rbac/ensure-own-object) and the node in the agent's token")
		if err := wait(backoff); err != nil {
			return "", err
		}
		backoff = min(2*backoff, maxB)
	}
}

func ptrTo[T any](v T) *T { return &v }
