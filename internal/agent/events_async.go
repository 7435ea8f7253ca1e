package agent

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// DefaultEventQueue is how many Events may wait for the API server before new ones are dropped.
const DefaultEventQueue = 256

// AsyncEvents posts Events from its own goroutine so that a reconcile never waits for the API server's
// client-side rate limit (client-go: 5 requests/s by default): 1000 peer transitions used to block every
// object of the node for minutes. The queue is bounded; an Event that does not fit is dropped and counted
// (an Event is a courtesy, the status is the record).
type AsyncEvents struct {
	inner   EventRecorder
	queue   chan queuedEvent
	dropped func()

	stopOnce sync.Once
	done     chan struct{}
}

type queuedEvent struct {
	regarding                       *v3.CalicoNodeStatus
	eventtype, reason, action, note string
}

// NewAsyncEvents wraps inner with a queue of capacity entries (DefaultEventQueue when <= 0); dropped, when
// not nil, is called for each Event dropped because the queue was full.
func NewAsyncEvents(inner EventRecorder, capacity int, dropped func()) *AsyncEvents {
	if capacity <= 0 {
		capacity = DefaultEventQueue
	}
	return &AsyncEvents{inner: inner, queue: make(chan queuedEvent, capacity), dropped: dropped, done: make(chan struct{})}
}

// Eventf implements EventRecorder without blocking. Only the object's identity is kept (not its status),
// so a full queue holds at most a few hundred small records.
func (a *AsyncEvents) Eventf(regarding runtime.Object, _ runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	obj, ok := regarding.(*v3.CalicoNodeStatus)
	if !ok {
		return
	}
	ref := &v3.CalicoNodeStatus{TypeMeta: obj.TypeMeta}
	ref.Name, ref.UID, ref.ResourceVersion = obj.Name, obj.UID, obj.ResourceVersion
	ev := queuedEvent{regarding: ref, eventtype: eventtype, reason: reason, action: action, note: fmt.Sprintf(note, args...)}
	select {
	case a.queue <- ev:
	default:
		if a.dropped != nil {
			a.dropped()
		}
	}
}

// Run posts queued Events until ctx ends; what is still queued then is dropped with the process.
func (a *AsyncEvents) Run(ctx context.Context) {
	defer close(a.done)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-a.queue:
			a.inner.Eventf(ev.regarding, nil, ev.eventtype, ev.reason, ev.action, "%s", ev.note)
		}
	}
}
