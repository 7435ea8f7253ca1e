package agent

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

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
	// MaxObjects is how many objects of the node are served, the oldest first (DefaultMaxObjectsPerNode
	// when 0); the others get a Ready=False TooManyObjects condition and nothing else.
	MaxObjects int
	// MinFullTableInterval is the shortest interval between two route-table reads from BIRD
	// (DefaultMinFullTableInterval when 0).
	MinFullTableInterval time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Log may be nil (no logs).
	Log *slog.Logger
	// APIChecker may be nil; it is told about failed writes and asked when a status write answers 404.
	APIChecker *APIChecker
	// OtherWriterQuiet is how long another writer must leave an object's status alone before the agent
	// writes it again (DefaultOtherWriterQuiet when 0; see foreign.go).
	OtherWriterQuiet time.Duration

	initOnce  sync.Once
	grid      grid
	snapshots *sharedSnapshots
	builds    buildMemo
	limiter   *eventLimiter
	others    otherWriters

	mu      sync.Mutex
	objects map[string]*objectState

	fallback countsOnlyFallback
}

// objectState is what the reconciler remembers of an object between its runs.
type objectState struct {
	// uid tells a recreated object (same name) from the one remembered: it is always collected anew.
	uid           types.UID
	period        time.Duration
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
		if r.MaxObjects <= 0 {
			r.MaxObjects = DefaultMaxObjectsPerNode
		}
		if r.MinFullTableInterval <= 0 {
			r.MinFullTableInterval = DefaultMinFullTableInterval
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
	if after, hold := r.holdForOtherWriter(ctx, log, &obj, now); hold {
		return after, nil
	}
	if ok, total := serves(r.Store.List(), &obj, r.MaxObjects); !ok {
		r.forget(name)
		return overCapRecheck, r.writeOverCap(ctx, log, &obj, total, now)
	}
	period := time.Duration(ptrValue(obj.Spec.UpdatePeriodSeconds)) * time.Second
	need := needFor(obj.Spec.Classes)

	r.mu.Lock()
	st, known := r.objects[name]
	specChanged := !known || st.uid != obj.UID || st.generation != obj.Generation || obj.Status.ObservedGeneration != obj.Generation
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
	if !known || st.uid != obj.UID {
		st = &objectState{uid: obj.UID}
		r.objects[name] = st
	}
	st.need, st.period = need, period
	union := r.unionNeed()
	r.mu.Unlock()

	start := time.Now()
	maxAge := snapshotMaxAge(period)
	if union.Routes {
		maxAge = max(maxAge, r.MinFullTableInterval)
	}
	snap, seq, fresh := r.snapshots.get(ctx, union, maxAge)
	sections := ownSections(r.builds.sections(seq, snap, obj.Spec.Classes, r.Collect))
	if fresh {
		bgp := sections.BGP
		if bgp == nil && union.Protocols {
			bgp = r.builds.sections(seq, snap, []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, r.Collect).BGP
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
		meta.RemoveStatusCondition(&desired.Conditions, v3.ConditionOtherWriter) // written only while another writer is seen
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
			if nw := r.statusNotWritable(ctx, obj, err); nw != nil {
				return false, nw
			}
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
			if r.otherWriterRecent(obj, now) {
				return false, nil // another writer wrote meanwhile: the next run leaves the object to it
			}
		case r.fallback.refuse(obj.Name, desired, err, now):
			// Refused for what it holds: write the counts only (fallback.go), on the object as it was.
			r.Metrics.wrote("error")
			log.Warn("the API server refused the full status; writing the counts without the lists", "err", err)
			*obj = *before
		default:
			r.APIChecker.Observe(err)
			r.Metrics.wrote("error")
			return false, fmt.Errorf("write status of caliconodestatus %s: %w", obj.Name, err)
		}
	}
}

// writeOverCap gives an object beyond the node's cap a status that says so, once.
func (r *Reconciler) writeOverCap(ctx context.Context, log *slog.Logger, obj *v3.CalicoNodeStatus, total int, now time.Time) error {
	desired := overCapStatus(obj, total, r.MaxObjects)
	if sameContent(obj.Status, desired) {
		return nil
	}
	desired.LastUpdated = metav1.NewTime(now.UTC())
	obj.Status = desired
	if _, err := r.Store.UpdateStatus(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil // gone, or changed: the watch brings it back
		}
		r.Metrics.wrote("error")
		return fmt.Errorf("write status of caliconodestatus %s (over the node's object cap): %w", obj.Name, err)
	}
	r.Metrics.wrote("changed")
	log.Warn("object not served: too many objects for this node", "objects", total, "maxObjectsPerNode", r.MaxObjects)
	return nil
}

func (r *Reconciler) recordPeerEvents(obj *v3.CalicoNodeStatus, before, after *v3.CalicoNodeBGPStatus, now time.Time) {
	if r.Events == nil {
		return
	}
	for _, t := range peerTransitions(before, after) {
		eventtype, reason, note := t.reasonAndNote()
		// Keyed by peer and reason, not by object: a node with N objects reports one Event per peer
		// change per interval, not N.
		if !r.limiter.allow(t.family+"/"+t.peerIP+"/"+reason, now) {
			continue
		}
		r.Events.Eventf(obj, nil, eventtype, reason, "CollectStatus", "%s", note)
	}
}

// periodOf is the update period of an object the reconciler knows (0 when unknown or refresh is off).
func (r *Reconciler) periodOf(name string) time.Duration {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.objects[name]; ok {
		return s.period
	}
	return 0
}

func (r *Reconciler) forget(name string) {
	r.mu.Lock()
	delete(r.objects, name)
	r.mu.Unlock()
	if _, held := r.others.release(name); held {
		r.countOthers()
	}
	r.fallback.forget(name)
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
