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
	"github.com/calico-node-status/calico-node-status/internal/status"
)

// FieldOwner is the field manager of every status write.
const FieldOwner = "calico-node-status-agent"

// maxConflictRetries bounds how often one reconcile retries a write refused for a conflict.
const maxConflictRetries = 3

// Options configure a Reconciler. NewReconciler fills in the defaults of the fields left zero.
type Options struct {
	// Store reads this node's objects (from its watch) and writes their status.
	Store    Store
	NodeName string
	Source   SnapshotSource
	// Events may be nil (no Events).
	Events EventRecorder
	// Metrics may be nil (no metrics).
	Metrics *Metrics
	Collect status.Options
	// Pod is the agent's own Pod (zero outside a Pod), recorded in every status as status.reporter so that
	// readers take the Pod's readiness as the freshness signal (freshness.go).
	Pod PodRef
	// Heartbeat is the shortest interval at which lastUpdated advances without changes. 0: none when Pod
	// is known (lastUpdated is then when the status last changed), v3.DefaultHeartbeat outside a Pod;
	// negative: none. A heartbeat is recorded in status.reporter.heartbeatSeconds.
	Heartbeat time.Duration
	// UnwrittenBound is the shortest time a built status may stay unwritten, or an object uncollected,
	// before ReadyError reports it: max(2×period, UnwrittenBound) (v3.MinUnwrittenBound when 0).
	UnwrittenBound time.Duration
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
}

// Reconciler keeps the CalicoNodeStatus objects of one node current. Make one with NewReconciler.
type Reconciler struct {
	Options

	grid      grid
	snapshots *sharedSnapshots
	builds    buildMemo
	limiter   *eventLimiter
	others    otherWriters
	fallback  countsOnlyFallback
	flaps     flapTracker // flaps.go
	// reporter is the status.reporter of every status written (freshness.go).
	reporter *v3.StatusReporter

	mu      sync.Mutex
	objects map[string]*objectState
}

// objectState is what the reconciler remembers of an object between its runs.
type objectState struct {
	// uid tells a recreated object (same name) from the one remembered: it is always collected anew.
	uid           types.UID
	period        time.Duration
	generation    int64
	lastCollected time.Time
	need          bird.Need
	// lastBuilt is when a collection last built a status for the object, written or not; seen is when the
	// reconciler first saw it (ReadyError's reference before a first collection).
	lastBuilt, seen time.Time
	// unwrittenSince is when a built status first failed to be written (zero once one is written or there
	// is nothing to write), unwrittenErr the last such failure (freshness.go).
	unwrittenSince time.Time
	unwrittenErr   error
}

// NewReconciler returns a Reconciler for o, with defaults for the options left zero.
func NewReconciler(o Options) *Reconciler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	o.Heartbeat = heartbeatFor(o)
	if o.UnwrittenBound <= 0 {
		o.UnwrittenBound = v3.MinUnwrittenBound
	}
	if o.MaxObjects <= 0 {
		o.MaxObjects = DefaultMaxObjectsPerNode
	}
	if o.MinFullTableInterval <= 0 {
		o.MinFullTableInterval = DefaultMinFullTableInterval
	}
	if o.OtherWriterQuiet <= 0 {
		o.OtherWriterQuiet = DefaultOtherWriterQuiet
	}
	return &Reconciler{
		Options:   o,
		grid:      newGrid(o.NodeName),
		snapshots: &sharedSnapshots{src: o.Source, now: o.Now, log: o.Log},
		limiter:   &eventLimiter{interval: time.Minute},
		objects:   map[string]*objectState{},
		reporter:  reporterFor(o.Pod, o.Heartbeat),
	}
}

// Reconcile collects and writes the status of one object when it is due. It returns how long until the
// object's next run (0: none scheduled).
func (r *Reconciler) Reconcile(ctx context.Context, name string) (time.Duration, error) {
	obj, ok, err := r.get(name)
	if !ok {
		return 0, err
	}
	log := r.Log.With("caliconodestatus", name)
	now := r.Now()
	if after, hold := r.holdForOtherWriter(ctx, log, obj, now); hold {
		return after, nil
	}
	if ok, total := serves(r.Store.List(), obj, r.MaxObjects); !ok {
		r.forget(name)
		return overCapRecheck, r.writeOverCap(ctx, log, obj, total, now)
	}
	period := time.Duration(ptrValue(obj.Spec.UpdatePeriodSeconds)) * time.Second
	union, after, due := r.due(obj, period, now)
	if !due {
		return after, nil
	}
	sections := r.build(ctx, obj, union, period)
	wrote, err := r.writeIfChanged(ctx, log, obj, sections, now, period)
	if err != nil {
		return 0, err
	}
	if !wrote {
		r.Metrics.skipped()
	}
	return r.collected(obj, now, period), nil
}

// get returns a copy of the object from the watch's cache. ok is false when there is nothing to do: the
// object is gone, moved to another node (whose agent takes over) or being deleted, or err says why it
// could not be read.
func (r *Reconciler) get(name string) (obj *v3.CalicoNodeStatus, ok bool, err error) {
	cached, err := r.Store.Cached(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(name)
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("get caliconodestatus %s: %w", name, err)
	}
	o := *cached
	if o.Spec.Node != r.NodeName || !o.DeletionTimestamp.IsZero() {
		r.forget(name)
		return nil, false, nil
	}
	return &o, true, nil
}

// due records obj's period and needs and says whether obj is to be collected now: it is new, its spec
// changed, or its next grid point has come. Otherwise after is the time until that point (0: refresh is
// disabled and this generation was collected). union is what every object of the node needs from BIRD.
func (r *Reconciler) due(obj *v3.CalicoNodeStatus, period time.Duration, now time.Time) (union bird.Need, after time.Duration, due bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, known := r.objects[obj.Name]
	specChanged := !known || st.uid != obj.UID || st.generation != obj.Generation || obj.Status.ObservedGeneration != obj.Generation
	if !specChanged {
		if period == 0 {
			return bird.Need{}, 0, false
		}
		if next := r.grid.next(st.lastCollected, period); now.Before(next) {
			return bird.Need{}, next.Sub(now), false
		}
	}
	if !known || st.uid != obj.UID {
		st = &objectState{uid: obj.UID, seen: now}
		r.objects[obj.Name] = st
	}
	st.need, st.period = needFor(obj.Spec.Classes), period
	return r.unionNeed(), 0, true
}

// build maps the node's shared BIRD snapshot to obj's sections: one BIRD read per grid point serves every
// object of the node (covering union), one build per snapshot and classes serves the objects that ask the
// same. The metrics come from that read and that build, never from a build of their own.
func (r *Reconciler) build(ctx context.Context, obj *v3.CalicoNodeStatus, union bird.Need, period time.Duration) status.Sections {
	maxAge := snapshotMaxAge(period)
	if union.Routes {
		maxAge = max(maxAge, r.MinFullTableInterval)
	}
	snap, seq, took, fresh := r.snapshots.get(ctx, union, maxAge)
	if fresh {
		r.Metrics.observeSnapshot(snap, took)
	}
	shared, peersFirstSeen := r.builds.sections(seq, snap, obj.Spec.Classes, r.Collect)
	if peersFirstSeen {
		r.Metrics.observePeers(shared.BGP)
	}
	own := ownSections(shared)
	own.BGP = r.flapHistory(seq, snap, union, obj.Status.BGP, own.BGP, r.Now())
	return own
}

// collected records that obj was collected at now and returns the time until its next grid point (0: none,
// refresh is disabled).
func (r *Reconciler) collected(obj *v3.CalicoNodeStatus, now time.Time, period time.Duration) time.Duration {
	r.mu.Lock()
	if s, ok := r.objects[obj.Name]; ok {
		s.generation, s.lastCollected = obj.Generation, now
	}
	r.mu.Unlock()
	if period == 0 {
		return 0
	}
	return r.grid.next(now, period).Sub(now)
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

// writeIfChanged writes the status computed from sections when it differs from obj's or the heartbeat is
// due. A write refused for a conflict or for its content is retried (writeFailed says how); it reports
// whether a status was written.
func (r *Reconciler) writeIfChanged(ctx context.Context, log *slog.Logger, obj *v3.CalicoNodeStatus, sections status.Sections, now time.Time, period time.Duration) (bool, error) {
	for attempt := 0; ; attempt++ {
		desired := r.fallback.apply(obj.Name, status.Desired(obj, sections), now)
		meta.RemoveStatusCondition(&desired.Conditions, v3.ConditionOtherWriter) // written only while another writer is seen
		// A new reporter (the agent's Pod was replaced) is a change: one write per object per rollout.
		desired.Reporter = r.reporter.DeepCopy()
		changed := !status.SameContent(obj.Status, desired)
		if !changed && !heartbeatDue(now, obj.Status.LastUpdated.Time, period, r.Heartbeat) {
			r.noteWrite(obj.Name, nil, now)
			return false, nil
		}
		desired.LastUpdated = metav1.NewTime(now.UTC())
		before := obj.DeepCopy()
		obj.Status = desired
		stored, err := r.Store.UpdateStatus(ctx, obj)
		if err == nil {
			*obj = *stored
			r.noteWrite(obj.Name, nil, now)
			r.written(log, obj, before.Status.BGP, desired.BGP, changed, now)
			return true, nil
		}
		if retry, err := r.writeFailed(ctx, log, obj, before, desired, err, attempt, now); !retry {
			if err != nil {
				r.noteWrite(obj.Name, err, now)
			}
			return false, err
		}
	}
}

// written counts a status write, logs it and records the peer Events it shows.
func (r *Reconciler) written(log *slog.Logger, obj *v3.CalicoNodeStatus, before, after *v3.CalicoNodeBGPStatus, changed bool, now time.Time) {
	reason := "changed"
	if !changed {
		reason = "heartbeat"
	}
	r.Metrics.wrote(reason)
	log.Debug("status written", "reason", reason, "resourceVersion", obj.ResourceVersion)
	r.recordPeerEvents(obj, before, after, now)
}

// writeFailed handles a refused status write of obj (before: obj as it was before the attempt, desired:
// the status refused). It reports whether to try again, with obj updated: after a conflict on the object
// read fresh from the API server, with the same collection, as long as the spec did not change (otherwise
// the watch requeues it to be collected for its new spec); after a refusal for the content, with the
// counts only. Without a retry, err is what the reconcile returns.
func (r *Reconciler) writeFailed(ctx context.Context, log *slog.Logger, obj, before *v3.CalicoNodeStatus, desired v3.CalicoNodeStatusStatus, writeErr error, attempt int, now time.Time) (retry bool, err error) {
	switch {
	case apierrors.IsNotFound(writeErr):
		if nw := r.statusNotWritable(ctx, obj, writeErr); nw != nil {
			return false, nw
		}
		r.forget(obj.Name)
		return false, nil
	case apierrors.IsConflict(writeErr) && attempt < maxConflictRetries:
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
		// Another writer wrote meanwhile: the next run leaves the object to it.
		return !r.otherWriterRecent(obj, now), nil
	case r.fallback.refuse(obj.Name, desired, writeErr, now):
		// Refused for what it holds: write the counts only (fallback.go), on the object as it was.
		r.Metrics.wrote("error")
		log.Warn("the API server refused the full status; writing the counts without the lists", "err", writeErr)
		*obj = *before
		return true, nil
	default:
		r.APIChecker.Observe(writeErr)
		r.Metrics.wrote("error")
		return false, fmt.Errorf("write status of caliconodestatus %s: %w", obj.Name, writeErr)
	}
}

// writeOverCap gives an object beyond the node's cap a status that says so, once.
func (r *Reconciler) writeOverCap(ctx context.Context, log *slog.Logger, obj *v3.CalicoNodeStatus, total int, now time.Time) error {
	desired := status.OverCap(obj, total, r.MaxObjects)
	desired.Reporter = r.reporter.DeepCopy()
	if status.SameContent(obj.Status, desired) {
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
