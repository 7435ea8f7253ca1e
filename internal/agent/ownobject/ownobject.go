// Package ownobject is the agent's --ensure-own-object: once the node's watch has synced, it creates the
// node's CalicoNodeStatus when the node has none, so that a cluster-wide view covers every node, new ones
// included, without anything central.
//
// It is a package of its own for its RBAC: controller-gen merges the +kubebuilder:rbac markers of the
// packages it reads into one ClusterRole, and the create this package needs belongs in the optional role
// config/rbac/ensure-own-object (generated from this package alone, `make generate`), not in the agent's
// default role config/rbac (generated from internal/agent).
package ownobject

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Lister lists the node's objects as its watch last saw them; agent.KubeStore implements it.
type Lister interface {
	List() []*v3.CalicoNodeStatus
}

// Creator creates a CalicoNodeStatus; agent.KubeStore implements it.
type Creator interface {
	Create(ctx context.Context, obj *v3.CalicoNodeStatus) error
}

// Ensurer makes sure the agent's node has a CalicoNodeStatus: when the node has no object at all (a
// hand-made one counts), it creates v3.ManagedObjectName(node), labelled like those of
// `calico-node-status enable`. It runs once per agent start: an object deleted later (by `disable`, say)
// is not recreated until the agent restarts.
type Ensurer struct {
	Node    string
	Store   Lister
	Creator Creator
	// Synced reports whether the node's watch has listed its objects.
	Synced func() bool
	Log    *slog.Logger
	// MinBackoff and MaxBackoff bound the retries of a failed create (DefaultBackoff and 5 min when 0).
	MinBackoff, MaxBackoff time.Duration
}

// DefaultBackoff is the first wait after a failed create; it doubles up to Ensurer.MaxBackoff.
const DefaultBackoff = time.Second

// RBAC of --ensure-own-object, generated into config/rbac/ensure-own-object/cluster_role.yaml: create only.
// RBAC cannot say "only objects of my node": the node isolation policy (config/admission) does. It holds
// every create, update and delete by the agent's service account (calico-node-status-agent, in any
// namespace) to objects whose spec.node is the node in the agent's token, so an agent creates its own
// node's object and nothing else. Bind this role to no other service account: the policy holds other
// service accounts to their node only for status writes (so that GitOps controllers can create objects).
// +kubebuilder:rbac:groups=projectcalico.org,resources=caliconodestatuses,verbs=create

// Run waits for the watch, then creates the object when none exists, retrying with backoff until it exists
// or ctx ends. It returns the outcome: "created", "exists" or ctx's error.
func (o *Ensurer) Run(ctx context.Context) (string, error) {
	minB, maxB := o.MinBackoff, o.MaxBackoff
	if minB <= 0 {
		minB = DefaultBackoff
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
