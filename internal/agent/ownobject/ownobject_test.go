package ownobject

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// fakeAPI lists objs and answers each Create with the next of errs (nil once they run out).
type fakeAPI struct {
	mu      sync.Mutex
	objs    []*v3.CalicoNodeStatus
	errs    []error
	created []*v3.CalicoNodeStatus
}

func (f *fakeAPI) List() []*v3.CalicoNodeStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objs
}

func (f *fakeAPI) Create(_ context.Context, obj *v3.CalicoNodeStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, obj)
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return err
	}
	return nil
}

func TestEnsurer_Run(t *testing.T) {
	gr := schema.GroupResource{Group: v3.GroupVersion.Group, Resource: "caliconodestatuses"}
	forbidden := apierrors.NewForbidden(gr, "cns-node-a", errors.New("RBAC: no create"))
	tests := []struct {
		name        string
		objs        []*v3.CalicoNodeStatus
		errs        []error
		want        string
		wantCreates int
	}{
		{"node without objects: creates the managed one", nil, nil, "created", 1},
		{"node with a hand-made object: creates none", []*v3.CalicoNodeStatus{{ObjectMeta: metav1.ObjectMeta{Name: "mine"}}}, nil, "exists", 0},
		{"created meanwhile by someone else", nil, []error{apierrors.NewAlreadyExists(gr, "cns-node-a")}, "exists", 1},
		{"create refused twice, then allowed: retries", nil, []error{forbidden, forbidden}, "created", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			api := &fakeAPI{objs: tt.objs, errs: tt.errs}
			e := &Ensurer{Node: "node-a", Store: api, Creator: api, Synced: func() bool { return true },
				MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
			got, err := e.Run(ctx)
			if err != nil || got != tt.want {
				t.Fatalf("Run: %q, %v; want %q", got, err, tt.want)
			}
			if len(api.created) != tt.wantCreates {
				t.Fatalf("%d creates, want %d", len(api.created), tt.wantCreates)
			}
			for _, o := range api.created {
				if o.Name != v3.ManagedObjectName("node-a") || o.Spec.Node != "node-a" || o.Labels[v3.LabelManaged] != "true" ||
					o.Annotations[v3.AnnotationCreatedBy] != "agent" || o.Spec.UpdatePeriodSeconds == nil ||
					*o.Spec.UpdatePeriodSeconds != v3.ManagedPeriodSeconds {
					t.Errorf("created %+v, want the managed object of node-a", o)
				}
			}
		})
	}
}

// TestEnsurer_RunWaitsForTheWatchAndEndsWithCtx: nothing is created before the watch has synced, and a
// run that cannot finish returns ctx's error.
func TestEnsurer_RunWaitsForTheWatchAndEndsWithCtx(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	api := &fakeAPI{}
	e := &Ensurer{Node: "node-a", Store: api, Creator: api, Synced: func() bool { return false }}
	got, err := e.Run(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || got != "" {
		t.Fatalf("Run with a watch that never syncs: %q, %v; want ctx's deadline error", got, err)
	}
	if len(api.created) != 0 {
		t.Fatalf("created %d objects before the watch synced", len(api.created))
	}
}
