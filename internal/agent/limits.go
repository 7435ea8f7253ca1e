package agent

import (
	"slices"
	"strings"
	"sync"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
)

// Bounds on the work one node's objects can cause. CalicoNodeStatus is cluster-scoped, so no
// ResourceQuota limits how many objects name one node; each object served costs a status build and
// writes.
const (
	// DefaultMaxObjectsPerNode is how many objects of its node an agent serves (the oldest ones).
	DefaultMaxObjectsPerNode = 16
	// DefaultMinFullTableInterval is the shortest interval between two reads of BIRD's route table, however
	// short and however unaligned the objects' periods (the shortest period is 1 s; off-grid collections
	// for new objects and spec changes used to add reads between grid points: up to two a second).
	DefaultMinFullTableInterval = time.Second
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

// buildMemo keeps the sections built from the current shared snapshot per set of classes, so objects that
// ask the same of the same snapshot share one build (2 ms per 20k routes) instead of one each.
type buildMemo struct {
	mu       sync.Mutex
	snapshot uint64
	built    map[string]status.Sections
	// peersSeen: a build of this snapshot had a BGP section already (its peers are in the metrics).
	peersSeen bool
}

// sections returns the sections of classes for snapshot number seq, building them once. The result is the
// memo's: the caller copies what it modifies (see ownSections). peersFirstSeen is true for the first
// result of the snapshot with a BGP section, so the peer metrics follow each snapshot once, from a build
// an object asked for.
func (m *buildMemo) sections(seq uint64, snap bird.Snapshot, classes []v3.NodeStatusClassType, opts status.Options) (s status.Sections, peersFirstSeen bool) {
	key := classesKey(classes)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snapshot != seq || m.built == nil {
		m.snapshot, m.built, m.peersSeen = seq, map[string]status.Sections{}, false
	}
	s, ok := m.built[key]
	if !ok {
		s = status.Build(snap, classes, opts)
		m.built[key] = s
	}
	if s.BGP != nil && !m.peersSeen {
		m.peersSeen = true
		return s, true
	}
	return s, false
}

func classesKey(classes []v3.NodeStatusClassType) string {
	c := make([]string, len(classes))
	for i, cl := range classes {
		c[i] = string(cl)
	}
	slices.Sort(c)
	return strings.Join(slices.Compact(c), ",")
}

// ownSections copies the parts of shared sections that Desired adjusts per object (the daemon and
// peer times kept stable against the object's previous status); the route lists, the large part, are
// only read and stay shared.
func ownSections(s status.Sections) status.Sections {
	return status.Sections{Agent: s.Agent.DeepCopy(), BGP: s.BGP.DeepCopy(), Routes: s.Routes}
}
