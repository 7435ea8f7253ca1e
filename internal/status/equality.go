package status

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// SameContent reports whether two statuses say the same thing, ignoring lastUpdated and treating nil and
// empty slices alike, so an unchanged BIRD state never causes a write.
func SameContent(a, b v3.CalicoNodeStatusStatus) bool {
	a.LastUpdated, b.LastUpdated = metav1.Time{}, metav1.Time{}
	return equality.Semantic.DeepEqual(normalise(a), normalise(b))
}

// normalise returns st with empty slices as nil and condition times dropped where only the time differs
// (a transition time is kept by SetStatusCondition when the status is unchanged).
func normalise(st v3.CalicoNodeStatusStatus) v3.CalicoNodeStatusStatus {
	out := *st.DeepCopy()
	if len(out.Conditions) == 0 {
		out.Conditions = nil
	}
	if a := out.Agent; a != nil && len(a.Issues) == 0 {
		a.Issues = nil
	}
	if b := out.BGP; b != nil {
		if len(b.PeersV4) == 0 {
			b.PeersV4 = nil
		}
		if len(b.PeersV6) == 0 {
			b.PeersV6 = nil
		}
		if len(b.Issues) == 0 {
			b.Issues = nil
		}
	}
	if r := out.Routes; r != nil {
		if len(r.RoutesV4) == 0 {
			r.RoutesV4 = nil
		}
		if len(r.RoutesV6) == 0 {
			r.RoutesV6 = nil
		}
		if len(r.Issues) == 0 {
			r.Issues = nil
		}
		for _, rs := range [][]v3.CalicoNodeRoute{r.RoutesV4, r.RoutesV6} {
			for i := range rs {
				if len(rs[i].NextHops) == 0 {
					rs[i].NextHops = nil
				}
			}
		}
	}
	for i := range out.Conditions {
		out.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	return out
}
