package status

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

func TestSameContentTreatsNilAndEmptyAlikeAndIgnoresLastUpdated(t *testing.T) {
	a := v3.CalicoNodeStatusStatus{LastUpdated: metav1.Now(), BGP: &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{}}, Routes: &v3.CalicoNodeBGPRouteStatus{RoutesV4: []v3.CalicoNodeRoute{}}}
	b := v3.CalicoNodeStatusStatus{BGP: &v3.CalicoNodeBGPStatus{}, Routes: &v3.CalicoNodeBGPRouteStatus{}}
	if !SameContent(a, b) {
		t.Fatal("nil and empty lists, or lastUpdated alone, made a difference")
	}
	b.BGP.NumberEstablishedV4 = 1
	if SameContent(a, b) {
		t.Fatal("a changed count was not a difference")
	}
	c := *a.DeepCopy()
	c.Routes = nil
	if SameContent(a, c) {
		t.Fatal("a removed section was not a difference")
	}
}
