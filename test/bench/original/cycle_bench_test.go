package main

import (
	"context"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
)

// BenchmarkReconcileUnchanged measures one collection + compare cycle of an object whose status does not
// change, against node1 of a real 11-node BIRD 1.6 lab (14 + 15 BGP protocols), the way each side does it:
//
//   - ours: bird.Collector.Collect (one connection per daemon, show status / show protocols all /
//     show route), status.Build, and a semantic comparison with the previous sections (the agent's
//     sameContent also normalises nil/empty lists; that copy is left out here);
//   - original-style: this package's populators for both families and all classes (a connection per
//     family and class, one request per peer) and reflect.DeepEqual with the previous status.
//
// Neither writes: this is the per-period cost of an unchanged object. Compare ns/op and allocs/op of the
// two sub-benchmarks of the same run (`go test -run '^$' -bench ReconcileUnchanged -benchmem`, as root).
func BenchmarkReconcileUnchanged(b *testing.B) {
	l := lab.Start(b, lab.Options{Name: "cnsbcycle", Nodes: 11, Bird: 1})
	node := l.Nodes[0]
	all := []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}
	ctx := context.Background()

	b.Run("ours", func(b *testing.B) {
		c := &bird.Collector{V4Socket: node.Socket4, V6Socket: node.Socket6}
		need := bird.Need{Status: true, Protocols: true, Routes: true}
		prev := status.Build(c.Collect(ctx, need), all, status.Options{})
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			cur := status.Build(c.Collect(ctx, need), all, status.Options{})
			if cur.BGP == nil || len(cur.BGP.PeersV4) == 0 {
				b.Fatal("no IPv4 peers collected")
			}
			// Result deliberately unused beyond forcing the comparison: BIRD's times may move.
			_ = equality.Semantic.DeepEqual(prev, cur)
			prev = cur
		}
	})
	b.Run("original-style", func(b *testing.B) {
		var cnt counters
		bc := &birdClient{sockets: map[family]string{v4: node.Socket4, v6: node.Socket6}, timeout: 2 * time.Second, c: &cnt}
		obj := &v3.CalicoNodeStatus{Spec: v3.CalicoNodeStatusSpec{Classes: all}}
		cycle := func() *v3.CalicoNodeStatus {
			st := obj.DeepCopy()
			for _, fam := range []family{v4, v6} {
				for _, class := range all {
					if err := bc.populate(fam, class, st); err != nil {
						b.Fatalf("populate IPv%s %s: %v", fam, class, err)
					}
				}
			}
			return st
		}
		obj = cycle()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			st := cycle()
			if st.Status.BGP == nil || len(st.Status.BGP.PeersV4) == 0 {
				b.Fatal("no IPv4 peers collected")
			}
			_ = reflect.DeepEqual(st.Status, obj.Status)
			obj = st
		}
	})
}
