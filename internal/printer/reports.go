package printer

import (
	"cmp"
	"slices"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// NodeReport is what one node's agent last reported about its BGP sessions: the object chosen for the
// node among those that ask for the BGP class, and how far to trust it.
type NodeReport struct {
	Node string
	// Object is the CalicoNodeStatus the report comes from.
	Object string
	// Assessment says whether the status is waiting, stale or not ready.
	Assessment Assessment
	// BGP is the object's BGP section; nil when the agent has not reported one.
	BGP *v3.CalicoNodeBGPStatus
	// RouterIDs are the node's BIRD router IDs (one per daemon that reported one).
	RouterIDs []string
	// Objects is how many objects of the node ask for the BGP class (the report is from one of them).
	Objects int
}

// Usable reports whether the report holds sessions to show: a BGP section the agent wrote.
func (r *NodeReport) Usable() bool { return r.BGP != nil && !r.Assessment.Waiting }

// Fresh reports whether the report describes the node now: usable and not stale.
func (r *NodeReport) Fresh() bool { return r.Usable() && len(r.Assessment.Stale) == 0 }

// LatestReports picks, for every node with an object that asks for the BGP class, the object whose BGP
// status describes the node best: a fresh one before a stale one, then the most recently written, then
// by name so the choice never depends on list order. Several objects of one node hold the same sessions
// (the agent collects once per period for all of them), so one is enough. Sorted by node name. pods reads
// the agent Pods the statuses name (see Assess).
func LatestReports(objs []v3.CalicoNodeStatus, now time.Time, pods Pods) []NodeReport {
	best := map[string]*NodeReport{}
	for i := range objs {
		o := &objs[i]
		if !slices.Contains(o.Spec.Classes, v3.NodeStatusClassTypeBGP) || o.Spec.Node == "" {
			continue
		}
		r := NodeReport{Node: o.Spec.Node, Object: o.Name, Assessment: Assess(o, now, pods), BGP: o.Status.BGP}
		if a := o.Status.Agent; a != nil {
			for _, d := range []*v3.BGPDaemonStatus{a.BIRDV4, a.BIRDV6} {
				if d != nil && d.RouterID != "" && !slices.Contains(r.RouterIDs, d.RouterID) {
					r.RouterIDs = append(r.RouterIDs, d.RouterID)
				}
			}
		}
		cur, ok := best[r.Node]
		if !ok {
			r.Objects = 1
			best[r.Node] = &r
			continue
		}
		r.Objects = cur.Objects + 1
		if better(&r, cur, o.Status.LastUpdated.Time, lastUpdated(objs, cur.Object)) {
			best[r.Node] = &r
		} else {
			cur.Objects = r.Objects
		}
	}
	out := make([]NodeReport, 0, len(best))
	for _, r := range best {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b NodeReport) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

func better(a, b *NodeReport, aTime, bTime time.Time) bool {
	rank := func(r *NodeReport) int {
		switch {
		case r.Fresh():
			return 0
		case r.Usable():
			return 1
		}
		return 2
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra < rb
	}
	if !aTime.Equal(bTime) {
		return aTime.After(bTime)
	}
	return a.Object < b.Object
}

func lastUpdated(objs []v3.CalicoNodeStatus, name string) time.Time {
	for i := range objs {
		if objs[i].Name == name {
			return objs[i].Status.LastUpdated.Time
		}
	}
	return time.Time{}
}
