package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Another writer of an object's status.
//
// Beside Calico, calico-node's own reporter may write the same CalicoNodeStatus (it watches every object,
// acts on its node's and replaces the whole object, or in Calico 3.33+ its status, whenever its own view
// differs). Two writers would overwrite each other every period. The API server records every writer in
// metadata.managedFields (one entry per field manager, with the time of its last change), so the agent
// sees another writer there: an entry of a manager other than FieldOwner for the status subresource that
// owns fields of .status. On our CRD only a write of the status subresource can change the status (the API
// server drops the status of a write of the whole object, such as Calico 3.32's, and of a create); on a
// CRD without the subresource (Calico's own) the agent cannot write at all, and says so instead
// (statusNotWritable), so entries of other subresources, such as the creator's of an empty status there,
// are no other writer.
//
// The rule: while another manager has changed the status within OtherWriterQuiet (default 10 min), the
// agent leaves the object alone: it does not collect or write it, except for one write when it first sees
// the other writer, which adds the conditions OtherWriter=True and Ready=False (reason
// StatusWrittenByOther, the other manager's name in the message) to the status as it stands. It says so in
// a Warning Event (OtherStatusWriter) and its log, and counts the object in objects_with_other_writer. It
// writes again, with the OtherWriter condition removed and a Normal Event (OtherStatusWriterGone), once the
// other manager has not changed the status for OtherWriterQuiet, or at once when that manager's entry is
// gone (the object was recreated, or someone took over or cleared its fields). If the other writer is
// still there, its next write starts a new quiet period: at most one write of each per period instead of
// a fight every tick. The quiet period is measured from the entry's time (the API server's clock) with
// the agent's clock; clocks minutes apart would shorten or lengthen it by that much.
//
// calico-node's client sets no user agent, so its manager is Go's default, "Go-http-client" (the API
// server names a manager after the user agent up to the first "/").

// DefaultOtherWriterQuiet is how long another writer must leave the status alone before the agent writes it
// again.
const DefaultOtherWriterQuiet = 10 * time.Minute

// Event reasons of another writer.
const (
	EventOtherStatusWriter     = "OtherStatusWriter"
	EventOtherStatusWriterGone = "OtherStatusWriterGone"
	EventStatusNotWritable     = "StatusNotWritable"
)

// CalicoNodeManager is the field manager calico-node's CalicoNodeStatus reporter writes as.
const CalicoNodeManager = "Go-http-client"

// otherWriter is the latest status write of a field manager other than the agent.
type otherWriter struct {
	manager     string
	operation   string
	subresource string
	at          time.Time
}

func (w otherWriter) describe() string {
	s := fmt.Sprintf("field manager %q (%s", w.manager, w.operation)
	if w.subresource != "" {
		s += " of /" + w.subresource
	}
	s += fmt.Sprintf(" at %s)", w.at.UTC().Format(time.RFC3339))
	if w.manager == CalicoNodeManager {
		s += ", the name calico-node's own CalicoNodeStatus reporter writes as"
	}
	return s
}

// otherStatusWriter returns the manager other than the agent that changed obj's status last.
func otherStatusWriter(obj *v3.CalicoNodeStatus) (otherWriter, bool) {
	var w otherWriter
	found := false
	for _, e := range obj.ManagedFields {
		if e.Manager == FieldOwner || e.Subresource != "status" || e.FieldsV1 == nil || !ownsStatus(e.FieldsV1.Raw) {
			continue
		}
		var at time.Time
		if e.Time != nil {
			at = e.Time.Time
		}
		if !found || at.After(w.at) {
			w = otherWriter{manager: e.Manager, operation: string(e.Operation), subresource: e.Subresource, at: at}
			found = true
		}
	}
	return w, found
}

func ownsStatus(fields []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(fields, &m) != nil {
		return false
	}
	_, ok := m["f:status"]
	return ok
}

// otherWriters are the objects the agent leaves to another writer.
type otherWriters struct {
	mu   sync.Mutex
	held map[string]otherWriter
}

// hold records that name is left to w; it reports whether the object was not held before.
func (o *otherWriters) hold(name string, w otherWriter) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.held == nil {
		o.held = map[string]otherWriter{}
	}
	_, was := o.held[name]
	o.held[name] = w
	return !was
}

// release forgets name and returns the writer it was left to.
func (o *otherWriters) release(name string) (otherWriter, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w, ok := o.held[name]
	delete(o.held, name)
	return w, ok
}

func (o *otherWriters) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.held)
}

// otherWriterRecent reports whether another manager changed obj's status within the quiet period.
func (r *Reconciler) otherWriterRecent(obj *v3.CalicoNodeStatus, now time.Time) bool {
	w, ok := otherStatusWriter(obj)
	return ok && now.Sub(w.at) < r.OtherWriterQuiet
}

// otherWriterChanged reports whether another writer appeared, wrote again or went away between two
// versions of an object (the controller then runs the object at once).
func otherWriterChanged(before, after *v3.CalicoNodeStatus) bool {
	a, okA := otherStatusWriter(before)
	b, okB := otherStatusWriter(after)
	return okA != okB || a != b
}

// holdForOtherWriter applies the rule above to obj; when the object is left to another writer it returns
// true and when to look at it again.
func (r *Reconciler) holdForOtherWriter(ctx context.Context, log *slog.Logger, obj *v3.CalicoNodeStatus, now time.Time) (time.Duration, bool) {
	quiet := r.OtherWriterQuiet
	w, ok := otherStatusWriter(obj)
	if !ok || now.Sub(w.at) >= quiet {
		if prev, was := r.others.release(obj.Name); was {
			why := fmt.Sprintf("no status write by %q for %s", prev.manager, quiet)
			if !ok {
				why = fmt.Sprintf("the managedFields entry of %q is gone", prev.manager)
			}
			log.Info("the other status writer is gone; writing this object again", "manager", prev.manager, "why", why)
			r.event(obj, "Normal", EventOtherStatusWriterGone, prev.manager, "%s: %s writes this status again", why, FieldOwner)
			r.countOthers()
		}
		return 0, false
	}
	if r.others.hold(obj.Name, w) {
		r.countOthers()
		msg := fmt.Sprintf("this status is also written by %s; %s on node %s stopped writing it so that two writers do not "+
			"overwrite each other, and writes again once that writer has not changed it for %s or is gone. One of the two must "+
			"go: stop the other writer, or remove calico-node-status and leave CalicoNodeStatus to it", w.describe(), FieldOwner, r.NodeName, quiet)
		log.Warn("another writer writes this object's status; leaving it alone", "manager", w.manager, "operation", w.operation,
			"subresource", w.subresource, "at", w.at, "quiet", quiet)
		r.event(obj, "Warning", EventOtherStatusWriter, w.manager, "%s", msg)
		if err := r.markOtherWriter(ctx, obj, msg); err != nil {
			log.Warn("could not set the OtherWriter condition", "err", err)
		}
	}
	return w.at.Add(quiet).Sub(now) + time.Second, true
}

// markOtherWriter adds OtherWriter=True and Ready=False to the status as the other writer left it, in one
// write (retried once on a conflict).
func (r *Reconciler) markOtherWriter(ctx context.Context, obj *v3.CalicoNodeStatus, msg string) error {
	o := obj.DeepCopy()
	for attempt := 0; ; attempt++ {
		meta.SetStatusCondition(&o.Status.Conditions, metav1.Condition{Type: v3.ConditionOtherWriter, Status: metav1.ConditionTrue,
			Reason: v3.ReasonStatusWrittenByOther, Message: msg, ObservedGeneration: o.Generation})
		meta.SetStatusCondition(&o.Status.Conditions, metav1.Condition{Type: v3.ConditionReady, Status: metav1.ConditionFalse,
			Reason: v3.ReasonStatusWrittenByOther, Message: msg, ObservedGeneration: o.Generation})
		_, err := r.Store.UpdateStatus(ctx, o)
		if err == nil || !apierrors.IsConflict(err) || attempt > 0 {
			return err
		}
		if o, err = r.Store.Fresh(ctx, obj.Name); err != nil {
			return err
		}
	}
}

// statusNotWritable is called when a status write answered 404: when the object itself still exists, its
// status endpoint does not (the CRD installed is not ours). It then checks the API, says what is wrong in
// an Event and returns the error to retry with backoff; it returns nil when the object is gone.
func (r *Reconciler) statusNotWritable(ctx context.Context, obj *v3.CalicoNodeStatus, writeErr error) error {
	if _, err := r.Store.Fresh(ctx, obj.Name); err != nil {
		return nil
	}
	msg := fmt.Sprintf("%v: PUT of its status answered 404 (%v): the CalicoNodeStatus API is not calico-node-status's CRD", errStatusNotWritable, writeErr)
	if r.APIChecker != nil {
		if rep, err := r.APIChecker.CheckNow(ctx); err == nil && !rep.OK() {
			msg = fmt.Sprintf("%v (404 on PUT of its status): %s", errStatusNotWritable, rep.Message)
		}
	}
	r.event(obj, "Warning", EventStatusNotWritable, "", "%s", msg)
	return fmt.Errorf("write status of caliconodestatus %s: %s", obj.Name, msg)
}

// event records an Event, at most one per object, reason and key per minute.
func (r *Reconciler) event(obj *v3.CalicoNodeStatus, eventtype, reason, key, format string, args ...any) {
	if r.Events == nil || !r.limiter.allow(obj.Name+"/"+reason+"/"+key, r.Now()) {
		return
	}
	r.Events.Eventf(obj, nil, eventtype, reason, "CollectStatus", format, args...)
}

func (r *Reconciler) countOthers() {
	if r.Metrics != nil && r.Metrics.beside != nil {
		r.Metrics.beside.otherWriters.Set(float64(r.others.count()))
	}
}
