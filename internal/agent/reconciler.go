package agent

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/collect"
)

// FieldOwner is the field manager of every status write.
const FieldOwner = "calico-node-status-agent"

// maxConflictRetries bounds how often one reconcile retries a write refused for a conflict.
const maxConflictRetries = 3

// Reconciler keeps the CalicoNodeStatus objects of one node current.
type Reconciler struct {
	// Store reads this node's objects (from its watch) and writes their status.
	Store    Store
	NodeName string
	Source   SnapshotSource
	// Events may be nil (no Events).
	Events EventRecorder
	// Metrics may be nil (no metrics).
	Metrics *Metrics
	Collect collect.Options
	// Heartbeat is the shortest interval at which lastUpdated advances without changes (DefaultHeartbeat
	// when 0).
	Heartbeat time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Log may be nil (no logs).
	Log *slog.Logger

	initOnce  sync.Once
	grid      grid
	snapshots *sharedSnapshots
	limiter   *eventLimiter

	mu      sync.Mutex
	objects map[string]*objectState

	fallback countsOnlyFallback
}

// objectState is what the reconciler remembers of an object between its runs.
type objectState struct {
	generation    int64
	lastCollected time.Time
	need          bird.Need
}

func (r *Reconciler) init() {
	r.initOnce.Do(func() {
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Log == nil {
			r.Log = slog.New(slog.DiscardHandler)
		}
		if r.Heartbeat == 0 {
			r.Heartbeat = DefaultHeartbeat
		}
		r.grid = newGrid(r.NodeName)
		r.snapshots = &sharedSnapshots{src: r.Source, now: r.Now, log: r.Log}
		r.limiter = &eventLimiter{interval: time.Minute}
		r.objects = map[string]*objectState{}
	})
}

// needFor says which BIRD sections the classes need. Routes need protocols too: a route's peer IP comes
// from its protocol's neighbor address.
func needFor(classes []v3.NodeStatusClassType) bird.Need {
	var n bird.Need
	for _, c := range classes {
		switch c {
		case v3.NodeStatusClassTypeAgent:
			n.Status = true
		case v3.NodeStatusClassTypeBGP:
			n.Protocols = true
		case v3.NodeStatusClassTypeRoutes:
			n.Protocols, n.Routes = true, true
		}
	}
	return n
}

// unionNeed is what every object of the node needs together, so one query serves them all.
func (r *Reconciler) unionNeed() bird.Need {
	var u bird.Need
	for _, s := range r.objects {
		u.Status = u.Status || s.need.Status
		u.Protocols = u.Protocols || s.need.Protocols
		u.Routes = u.Routes || s.need.Routes
	}
	return u
}

// Reconcile collects and writes the status of one object when it is due, and requeues it for its next
// grid point.
// It returns how long until the object's next run (0: none scheduled).
func (r *Reconciler) Reconcile(ctx context.Context, name string) (time.Duration, error) {
	r.init()
	log := r.Log.With("caliconodestatus", name)

	cached, err := r.Store.Cached(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(name)
			return 0, nil
		}
		return 0, fmt.Errorf("get caliconodestatus %s: %w", name, err)
	}
	obj := *cached
	if obj.Spec.Node != r.NodeName || !obj.DeletionTimestamp.IsZero() {
		// Moved to another node (whose agent takes over) or going away: stop working on it.
		r.forget(name)
		return 0, nil
	}

	now := r.Now()
	period := time.Duration(ptrValue(obj.Spec.UpdatePeriodSeconds)) * time.Second
	need := needFor(obj.Spec.Classes)

	r.mu.Lock()
	st, known := r.objects[name]
	specChanged := !known || st.generation != obj.Generation || obj.Status.ObservedGeneration != obj.Generation
	if !specChanged {
		if period == 0 {
			r.mu.Unlock()
			return 0, nil // collected for this generation; refresh is disabled
		}
		if next := r.grid.next(st.lastCollected, period); now.Before(next) {
			r.mu.Unlock()
			return next.Sub(now), nil
		}
	}
	if !known {
		st = &objectState{}
		r.objects[name] = st
	}
	st.need = need
	union := r.unionNeed()
	r.mu.Unlock()

	start := time.Now()
	snap, fresh := r.snapshots.get(ctx, union, snapshotMaxAge(period))
	sections := collect.Build(snap, obj.Spec.Classes, r.Collect)
	if fresh {
		bgp := sections.BGP
		if bgp == nil && union.Protocols {
			bgp = collect.Build(snap, []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, r.Collect).BGP
		}
		r.Metrics.observeSnapshot(snap, bgp, time.Since(start))
	}

	wrote, err := r.writeIfChanged(ctx, log, &obj, sections, now, period)
	if err != nil {
		return 0, err
	}
	if !wrote {
		r.Metrics.skipped()
	}

	r.mu.Lock()
	if s, ok := r.objects[name]; ok {
		s.generation, s.lastCollected = obj.Generation, now
	}
	r.mu.Unlock()
	if period == 0 {
		return 0, nil
	}
	return r.grid.next(now, period).Sub(now), nil
}

// writeIfChanged writes the status computed from sections when it differs from obj's or the heartbeat is
// due. A conflict is retried on the object read fresh from the API server, with the same collection, as
// long as the spec did not change; otherwise the object is requeued to be collected for its new spec.
func (r *Reconciler) writeIfChanged(ctx context.Context, log *slog.Logger, obj *v3.CalicoNodeStatus, sections collect.Sections, now time.Time, period time.Duration) (bool, error) {
	for attempt := 0; ; attempt++ {
		desired := r.fallback.apply(obj.Name, desiredStatus(obj, sections), now)
		changed := !sameContent(obj.Status, desired)
		if !changed && !heartbeatDue(now, obj.Status.LastUpdated.Time, period, r.Heartbeat) {
			return false, nil
		}
		desired.LastUpdated = metav1.NewTime(now.UTC())
		before := obj.DeepCopy()
		obj.Status = desired
		stored, err := r.Store.UpdateStatus(ctx, obj)
		switch {
		case err == nil:
			*obj = *stored
			reason := "changed"
			if !changed {
				reason = "heartbeat"
			}
			r.Metrics.wrote(reason)
			log.Debug("status written", "reason", reason, "resourceVersion", obj.ResourceVersion)
			r.recordPeerEvents(obj, before.Status.BGP, desired.BGP, now)
			return true, nil
		case apierrors.IsNotFound(err):
			r.forget(obj.Name)
			return false, nil
		case apierrors.IsConflict(err) && attempt < maxConflictRetries:
			r.Metrics.conflict()
			fresh, gerr := r.Store.Fresh(ctx, obj.Name)
			if gerr != nil {
				if apierrors.IsNotFound(gerr) {
					r.forget(obj.Name)
					return false, nil
				}
				return false, fmt.Errorf("re-read caliconodestatus %s after a write conflict: %w", obj.Name, gerr)
			}
			if fresh.Generation != before.Generation || fresh.Spec.Node != r.NodeName ||
				!slices.Equal(fresh.Spec.Classes, before.Spec.Classes) {
				// The spec changed under us: the collection may not fit it; the generation watch requeues it.
				return false, nil
			}
			*obj = *fresh
		case r.fallback.refuse(obj.Name, desired, err, now):
			// Refused for what it holds: write the counts only (fallback.go), on the object as it was.
			r.Metrics.wrote("error")
			log.Warn("the API server refused the full status; writing the counts without the lists", "err", err)
			*obj = *before
		default:
			r.Metrics.wrote("error")
			return false, fmt.Errorf("write status of caliconodestatus %s: %w", obj.Name, err)
		}
	}
}

func (r *Reconciler) recordPeerEvents(obj *v3.CalicoNodeStatus, before, after *v3.CalicoNodeBGPStatus, now time.Time) {
	if r.Events == nil {
		return
	}
	for _, t := range peerTransitions(before, after) {
		eventtype, reason, note := t.reasonAndNote()
		if !r.limiter.allow(obj.Name+"/"+t.family+"/"+t.peerIP+"/"+reason, now) {
			continue
		}
		r.Events.Eventf(obj, nil, eventtype, reason, "CollectStatus", "%s", note)
	}
}

func (r *Reconciler) forget(name string) {
	r.mu.Lock()
	delete(r.objects, name)
	r.mu.Unlock()
	r.fallback.forget(name)
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
