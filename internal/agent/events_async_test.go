package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// blockingRecorder stands for an API server that does not answer: every Event waits until released.
type blockingRecorder struct {
	release chan struct{}
	mu      sync.Mutex
	got     []string
}

func (b *blockingRecorder) Eventf(regarding runtime.Object, _ runtime.Object, _, reason, _, note string, args ...interface{}) {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, regarding.(*v3.CalicoNodeStatus).Name+"/"+reason+"/"+fmt.Sprintf(note, args...))
}

func (b *blockingRecorder) count() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.got) }

// Finding 4 of the hardening issue: Events were posted on the only worker. With the sender stuck, 1000
// Events must return at once, the overflow be dropped and counted, and what was queued be sent later.
func TestAsyncEventsNeverBlockAndDropOnOverflow(t *testing.T) {
	rec := &blockingRecorder{release: make(chan struct{})}
	var dropped atomic.Int64
	a := NewAsyncEvents(rec, 10, func() { dropped.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.Run(ctx)

	obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "o", UID: "u"}}
	returned := make(chan struct{})
	go func() {
		for i := range 1000 {
			a.Eventf(obj, nil, "Warning", EventPeerDown, "CollectStatus", "peer %d", i)
		}
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Eventf blocked on a sender that does not answer")
	}
	// At most the queue (10) plus the one the sender holds got through; the rest was dropped.
	if d := dropped.Load(); d < 1000-11 {
		t.Fatalf("dropped %d of 1000 Events with a queue of 10, want at least %d", d, 1000-11)
	}
	close(rec.release)
	kept := 1000 - int(dropped.Load())
	testenv.Eventually(t, 10*time.Second, "the queued Events to be sent", func() bool { return rec.count() == kept })
	if got := rec.got[0]; got != "o/PeerDown/peer 0" {
		t.Fatalf("first Event sent = %q, want the first one queued", got)
	}
}

type countingRecorder struct {
	mu  sync.Mutex
	got []string
}

func (c *countingRecorder) Eventf(regarding runtime.Object, _ runtime.Object, _, reason, _, _ string, _ ...interface{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, regarding.(*v3.CalicoNodeStatus).Name+"/"+reason)
}

// The limiter's key used to include the object's name, so N objects of a node multiplied the Events of
// one peer change by N.
func TestPeerEventsOncePerPeerAndReasonPerNodeWhateverTheObjects(t *testing.T) {
	rec := &countingRecorder{}
	r := NewReconciler(Options{Events: rec})

	peer := func(state v3.BGPSessionState) *v3.CalicoNodeBGPStatus {
		return &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{{PeerIP: "10.0.0.2", Type: v3.BGPPeerTypeNodeMesh, State: state, Protocol: "Mesh_10_0_0_2"}}}
	}
	now := time.Now()
	for i := range 20 {
		obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("obj-%d", i)}}
		r.recordPeerEvents(obj, peer(v3.BGPSessionStateEstablished), peer(v3.BGPSessionStateActive), now)
	}
	if len(rec.got) != 1 || rec.got[0] != "obj-0/"+EventPeerDown {
		t.Fatalf("one peer going down seen by 20 objects gave Events %v, want one PeerDown", rec.got)
	}
}
