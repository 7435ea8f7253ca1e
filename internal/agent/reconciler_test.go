package agent

import (
	"testing"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

func TestNeedFor(t *testing.T) {
	cases := []struct {
		classes []v3.NodeStatusClassType
		want    bird.Need
	}{
		{[]v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent}, bird.Need{Status: true}},
		{[]v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, bird.Need{Protocols: true}},
		{[]v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes}, bird.Need{Protocols: true, Routes: true}},
		{[]v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}, bird.Need{Status: true, Protocols: true, Routes: true}},
	}
	for _, tc := range cases {
		if got := needFor(tc.classes); got != tc.want {
			t.Errorf("needFor(%v) = %+v, want %+v", tc.classes, got, tc.want)
		}
	}
}
