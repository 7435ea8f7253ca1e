package main

import (
	"context"
	"log/slog"
	"reflect"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// update is what the informer hands to the main loop: an object, or a deleted name (obj nil).
type update struct {
	name string
	obj  *v3.CalicoNodeStatus
}

// nodeStatusReporter mirrors the original's NodeStatusReporter: one main loop that receives every object
// of the cluster, keeps those of its node, and runs one reporter (goroutine + ticker) per object.
type nodeStatusReporter struct {
	nodeName  string
	client    client.Client
	bird      *birdClient
	deepEqual bool
	log       *slog.Logger
	c         *counters

	updates   chan update
	inSync    chan struct{}
	pending   map[string]*v3.CalicoNodeStatus
	deleted   map[string]bool
	reporters map[string]*reporter
}

func newNodeStatusReporter(node string, cl client.Client, b *birdClient, deepEqual bool, log *slog.Logger, c *counters) *nodeStatusReporter {
	return &nodeStatusReporter{
		nodeName: node, client: cl, bird: b, deepEqual: deepEqual, log: log, c: c,
		updates: make(chan update, 100), inSync: make(chan struct{}),
		pending: map[string]*v3.CalicoNodeStatus{}, deleted: map[string]bool{}, reporters: map[string]*reporter{},
	}
}

// watch registers the informer handlers; every event of every node's objects reaches the main loop, which
// filters on spec.node (as the original does after its syncer).
func (r *nodeStatusReporter) watch(ctx context.Context, informers cache.Cache) error {
	inf, err := informers.GetInformer(ctx, &v3.CalicoNodeStatus{})
	if err != nil {
		return err
	}
	send := func(obj any) {
		if o, ok := obj.(*v3.CalicoNodeStatus); ok {
			r.updates <- update{name: o.Name, obj: o.DeepCopy()}
		}
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    send,
		UpdateFunc: func(_, obj any) { send(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if o, ok := obj.(*v3.CalicoNodeStatus); ok {
				r.updates <- update{name: o.Name}
			}
		},
	})
	return err
}

func (r *nodeStatusReporter) setInSync() { close(r.inSync) }

// run is the main loop: cache updates, and process them once the informer is in sync.
func (r *nodeStatusReporter) run(ctx context.Context) {
	synced := false
	for {
		select {
		case u := <-r.updates:
			if u.obj == nil {
				r.pending[u.name] = nil
				r.deleted[u.name] = true
			} else if u.obj.Spec.Node == r.nodeName && u.obj.Spec.UpdatePeriodSeconds != nil {
				r.pending[u.name] = u.obj
				delete(r.deleted, u.name)
			}
		case <-r.inSync:
			synced = true
			r.inSync = nil
		case <-ctx.Done():
			for name, rep := range r.reporters {
				rep.killAndWait()
				delete(r.reporters, name)
			}
			return
		}
		if synced {
			r.processPending()
		}
	}
}

func (r *nodeStatusReporter) processPending() {
	for name, obj := range r.pending {
		delete(r.pending, name)
		rep, ok := r.reporters[name]
		if obj == nil {
			if ok && r.deleted[name] {
				rep.killAndWait()
				delete(r.reporters, name)
			}
			continue
		}
		if !ok {
			rep = newReporter(name, r)
			r.reporters[name] = rep
		} else if rep.generation() >= obj.Generation {
			// Our own status write came back through the informer: nothing to do (HasSameOrNewerSpec).
			continue
		}
		rep.requestUpdate(obj)
	}
}

// reporter mirrors the original's reporter: one goroutine and one ticker per object.
type reporter struct {
	name   string
	parent *nodeStatusReporter
	ch     chan *v3.CalicoNodeStatus
	done   chan struct{}
	term   chan struct{}
	gen    chan int64

	status   *v3.CalicoNodeStatus
	interval int32
	ticker   *time.Ticker
}

func newReporter(name string, parent *nodeStatusReporter) *reporter {
	r := &reporter{
		name: name, parent: parent,
		ch: make(chan *v3.CalicoNodeStatus, 10), done: make(chan struct{}), term: make(chan struct{}),
		gen: make(chan int64), interval: -1,
	}
	go r.loop()
	return r
}

func (r *reporter) requestUpdate(obj *v3.CalicoNodeStatus) { r.ch <- obj }

func (r *reporter) killAndWait() {
	close(r.done)
	<-r.term
}

// generation asks the reporter's goroutine for the generation it works on (it owns r.status).
func (r *reporter) generation() int64 { return <-r.gen }

func (r *reporter) setTicker(period int32) {
	if period == r.interval {
		return
	}
	if r.ticker != nil {
		r.ticker.Stop()
		r.ticker = nil
	}
	r.interval = period
	if period > 0 {
		r.ticker = time.NewTicker(time.Duration(period) * time.Second)
	}
}

func (r *reporter) loop() {
	defer close(r.term)
	for {
		var tick <-chan time.Time
		if r.ticker != nil {
			tick = r.ticker.C
		}
		var gen int64
		if r.status != nil {
			gen = r.status.Generation
		}
		select {
		case latest := <-r.ch:
			r.status = latest
			if latest.Spec.UpdatePeriodSeconds != nil {
				r.setTicker(*latest.Spec.UpdatePeriodSeconds)
			}
			r.report()
		case <-tick:
			r.report()
		case r.gen <- gen:
		case <-r.done:
			if r.ticker != nil {
				r.ticker.Stop()
			}
			return
		}
	}
}

// report populates a copy of the object from BIRD and writes it: every tick, or (deepequal) only when
// reflect.DeepEqual finds a difference with the object last written, as the original's reportStatus.
func (r *reporter) report() {
	p := r.parent
	p.c.Ticks.Add(1)
	st := r.status.DeepCopy()
	for _, fam := range []family{v4, v6} {
		for _, class := range r.status.Spec.Classes {
			if err := p.bird.populate(fam, class, st); err != nil {
				// The original stops the whole update at the first populator error.
				p.c.PopulateErr.Add(1)
				p.log.Error("populate status", "object", r.name, "family", fam.String(), "class", string(class), "err", err)
				return
			}
		}
	}
	if p.deepEqual && reflect.DeepEqual(st.Status, r.status.Status) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st.Status.LastUpdated = metav1.Now()
	if err := p.client.Status().Update(ctx, st); err != nil {
		if apierrors.IsConflict(err) {
			p.c.Conflicts.Add(1)
			cur := &v3.CalicoNodeStatus{}
			if err := p.client.Get(ctx, client.ObjectKey{Name: r.name}, cur); err == nil {
				select {
				case r.ch <- cur:
				default:
				}
			}
			return
		}
		p.c.WriteErrors.Add(1)
		p.log.Error("update status", "object", r.name, "err", err)
		return
	}
	p.c.Writes.Add(1)
	r.status = st
}
