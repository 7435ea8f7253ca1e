package agent

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/collect"
)

// Bounds on the work one node's objects can cause. CalicoNodeStatus is cluster-scoped, so no
// ResourceQuota limits how many objects name one node; each object served costs a status build and
// writes.
const (
	// DefaultMaxObjectsPerNode is how many objects of its node an agent serves (the oldest ones).
	DefaultMaxObjectsPerNode = 16
	// DefaultMinFullTableInterval is the shortest interval between two reads of BIRD's route table, however
	// short the objects' periods: a full table can be a million lines.
	DefaultMinFullTableInterval = 5 * time.Second
	// overCapRecheck is how often an object beyond the cap is looked at again (it is served once older
	// objects are deleted); a look costs no BIRD query and no write when nothing changed.
	overCapRecheck = time.Minute
)

// serves reports whether obj is among the max oldest objects of the node (by creation time, then name),
// and the node's object count.
func serves(objs []*v3.CalicoNodeStatus, obj *v3.CalicoNodeStatus, max int) (ok bool, total int) {
	if len(objs) <= max {
		return true, len(objs)
	}
	older := 0
	for _, o := range objs {
		if o.Name == obj.Name {
			continue
		}
		if c := o.CreationTimestamp.Compare(obj.CreationTimestamp.Time); c < 0 || (c == 0 && o.Name < obj.Name) {
			older++
		}
	}
	return older < max, len(objs)
}

// overCapStatus is the status of an object the agent does not serve: only a Ready condition saying why.
func overCapStatus(obj *v3.CalicoNodeStatus, total, max int) v3.CalicoNodeStatusStatus {
	st := v3.CalicoNodeStatusStatus{LastUpdated: obj.Status.LastUpdated, ObservedGeneration: obj.Generation,
		Conditions: append([]metav1.Condition(nil), obj.Status.Conditions...)}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v3.ConditionReady, Status: metav1.ConditionFalse,
		Reason: v3.ReasonTooManyObjects, ObservedGeneration: obj.Generation,
		Message: fmt.Sprintf("node %s has %d CalicoNodeStatus objects; its agent serves the %d oldest (--max-objects-per-node): delete objects you no longer need, one per node is enough", obj.Spec.Node, total, max)})
	meta.RemoveStatusCondition(&st.Conditions, ConditionRefreshing)
	return st
}

// buildMemo keeps the sections built from the current shared snapshot per set of classes, so objects that
// ask the same of the same snapshot share one build (2 ms per 20k routes) instead of one each.
type buildMemo struct {
	mu       sync.Mutex
	snapshot uint64
	built    map[string]collect.Sections
}

// sections returns the sections of classes for snapshot number seq, building them once. The result is the
// memo's: the caller copies what it modifies (see ownSections).
func (m *buildMemo) sections(seq uint64, snap bird.Snapshot, classes []v3.NodeStatusClassType, opts collect.Options) collect.Sections {
	key := classesKey(classes)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snapshot != seq || m.built == nil {
		m.snapshot, m.built = seq, map[string]collect.Sections{}
	}
	if s, ok := m.built[key]; ok {
		return s
	}
	s := collect.Build(snap, classes, opts)
	m.built[key] = s
	return s
}

func classesKey(classes []v3.NodeStatusClassType) string {
	c := make([]string, len(classes))
	for i, cl := range classes {
		c[i] = string(cl)
	}
	slices.Sort(c)
	return strings.Join(slices.Compact(c), ",")
}

// ownSections copies the parts of shared sections that desiredStatus adjusts per object (the daemon and
// peer times kept stable against the object's previous status); the route lists, the large part, are
// only read and stay shared.
func ownSections(s collect.Sections) collect.Sections {
	return collect.Sections{Agent: s.Agent.DeepCopy(), BGP: s.BGP.DeepCopy(), Routes: s.Routes}
}
