package agent

import (
	"fmt"
	"math"
	"slices"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// PodRef is the agent's own Pod, from the downward API. It is recorded in every status the agent writes
// (status.reporter): a reader takes the Pod's readiness, which the kubelet reports on transitions only, as
// the sign that the status is current, instead of a periodic write per object.
type PodRef struct {
	Name, Namespace, UID string
}

// Validate refuses a Pod identity the CRD would refuse in every status (status.reporter's bounds), or a
// half one (a name without a namespace cannot be looked up).
func (p PodRef) Validate() error {
	switch {
	case p == PodRef{}:
		return nil
	case p.Name == "" || p.Namespace == "":
		return fmt.Errorf("pod identity %q/%q: both the name and the namespace are needed (or neither)", p.Namespace, p.Name)
	case len(p.Name) > v3.MaxPodNameLength || len(p.Namespace) > v3.MaxNamespaceLength || len(p.UID) > v3.MaxUIDLength:
		return fmt.Errorf("pod identity %q/%q (uid %q): longer than status.reporter allows (%d, %d, %d)",
			p.Namespace, p.Name, p.UID, v3.MaxPodNameLength, v3.MaxNamespaceLength, v3.MaxUIDLength)
	}
	return nil
}

// reporterFor is the status.reporter the agent writes: its Pod (when known) and its heartbeat (when it
// writes one).
func reporterFor(pod PodRef, heartbeat time.Duration) *v3.StatusReporter {
	rep := &v3.StatusReporter{Pod: pod.Name, Namespace: pod.Namespace, UID: pod.UID}
	if heartbeat > 0 {
		// Rounded up, so a reader never expects a write sooner than the agent makes one.
		rep.HeartbeatSeconds = int32(min(math.Ceil(heartbeat.Seconds()), math.MaxInt32))
	}
	return rep
}

// heartbeatFor resolves Options.Heartbeat: 0 means none for an agent in a Pod (its readiness is the
// freshness signal) and v3.DefaultHeartbeat for one outside a Pod (nothing else tells a reader it is
// alive); a negative value means none.
func heartbeatFor(o Options) time.Duration {
	switch {
	case o.Heartbeat < 0:
		return 0
	case o.Heartbeat > 0:
		return o.Heartbeat
	case o.Pod.Name != "":
		return 0
	}
	return v3.DefaultHeartbeat
}

// unwrittenBound is how long an object may go without its built status written, or without a
// collection, before the agent is not ready: max(2×period, Options.UnwrittenBound).
func (r *Reconciler) unwrittenBound(period time.Duration) time.Duration {
	return max(2*period, r.UnwrittenBound)
}

// noteWrite records the outcome of one collection's attempt to bring an object's status up to date (the
// collection ran, whatever the outcome): err nil when the
// status is current (written, or nothing to write), otherwise the error that kept a built status from
// being written. The first failure's time is kept until a success.
func (r *Reconciler) noteWrite(name string, err error, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.objects[name]
	if !ok {
		return
	}
	st.lastBuilt = now
	if err == nil {
		st.unwrittenSince, st.unwrittenErr = time.Time{}, nil
		return
	}
	if st.unwrittenSince.IsZero() {
		st.unwrittenSince = now
	}
	st.unwrittenErr = err
}

// ReadyError says why the statuses this agent owns may not be current, nil when they are: for some
// object it has built a status it has not managed to write for longer than the bound (a write denied or
// failing), or its collections stopped (a stuck collection), for longer than max(2×period,
// UnwrittenBound). Its Pod's readiness (the agent's /readyz) is what readers take for the freshness of
// every status it writes, so this must fail exactly when they are not. A BGP daemon that is down is not a
// reason: the agent writes that as a current status. Objects left to another writer are not counted.
func (r *Reconciler) ReadyError() error {
	now := r.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.objects))
	for name := range r.objects {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		st := r.objects[name]
		if r.others.isHeld(name) {
			continue // another writer's status, not this agent's
		}
		bound := r.unwrittenBound(st.period)
		if !st.unwrittenSince.IsZero() && now.Sub(st.unwrittenSince) > bound {
			return fmt.Errorf("the status of caliconodestatus %s has not been written for %s (more than %s): %w",
				name, now.Sub(st.unwrittenSince).Round(time.Second), bound, st.unwrittenErr)
		}
		if st.period <= 0 {
			continue // collected once for its generation: nothing more is due
		}
		last := st.lastBuilt
		if last.IsZero() {
			last = st.seen
		}
		if now.Sub(last) > bound {
			return fmt.Errorf("caliconodestatus %s was last collected %s ago, with a period of %s (more than %s): collections stopped",
				name, now.Sub(last).Round(time.Second), st.period, bound)
		}
	}
	return nil
}

// isHeld reports whether name is left to another writer.
func (o *otherWriters) isHeld(name string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.held[name]
	return ok
}
