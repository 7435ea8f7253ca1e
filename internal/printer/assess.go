package printer

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// StaleSlack absorbs API latency, the agent's jitter and small clock differences before a status is
// called stale by the age of its lastUpdated.
const StaleSlack = 30 * time.Second

// StaleAfter is how old status.lastUpdated may be before the status is stale, for a refresh period in
// seconds and the heartbeat of an agent that writes one (an agent outside a Pod):
// max(2×period, heartbeat) + StaleSlack. Twice the period, so one missed or late write is not yet stale.
// Zero when refresh is disabled (period 0), a snapshot never stale by age, or without a heartbeat, when
// age says nothing (lastUpdated is the last change).
func StaleAfter(periodSeconds int32, heartbeat time.Duration) time.Duration {
	if periodSeconds <= 0 || heartbeat <= 0 {
		return 0
	}
	return max(2*time.Duration(periodSeconds)*time.Second, heartbeat) + StaleSlack
}

// Pods reads the agent Pod a status names in status.reporter. An error for which apierrors.IsNotFound
// holds means the Pod does not exist; any other error means it could not be read.
type Pods func(namespace, name string) (*corev1.Pod, error)

// Assessment is what a reader must know before trusting a status.
type Assessment struct {
	// Waiting: the agent has written no status yet.
	Waiting bool
	// Stale lists why the status may not describe the node now; empty when it is current.
	Stale []string
	// Snapshot: refresh is disabled (period 0); the status is as old as lastUpdated says.
	Snapshot bool
	// Ready is the Ready condition's status ("True", "False", "Unknown"), or "" when there is none.
	Ready metav1.ConditionStatus
	// ReadyReason and ReadyMessage are the Ready condition's reason and message.
	ReadyReason, ReadyMessage string
	// Age is now minus status.lastUpdated (negative when lastUpdated is ahead of this clock); zero when
	// there is no lastUpdated.
	Age time.Duration
	// Pod is the agent Pod (namespace/name) whose readiness says whether the status is current; empty
	// when the status names none.
	Pod string
	// Unknown says why it cannot be told whether the status is current (for example the agent Pod cannot
	// be read); such a status is not called stale.
	Unknown []string
}

// Assess judges obj's status at time now. When status.reporter names the agent's Pod, pods reads it: the
// Pod's readiness, not lastUpdated's age, says whether the status is current (the agent writes only on
// change). Otherwise lastUpdated must be younger than the heartbeat the status records allows (see
// StaleAfter; v3.DefaultHeartbeat for a status without reporter). pods may be nil: a status that names a
// Pod is then of unknown freshness.
func Assess(obj *v3.CalicoNodeStatus, now time.Time, pods Pods) Assessment {
	st := &obj.Status
	var a Assessment
	if cond := findCondition(st.Conditions, v3.ConditionReady); cond != nil {
		a.Ready, a.ReadyReason, a.ReadyMessage = cond.Status, cond.Reason, cond.Message
	}
	if st.LastUpdated.IsZero() {
		if st.Agent == nil && st.BGP == nil && st.Routes == nil && len(st.Conditions) == 0 {
			a.Waiting = true
			return a
		}
		a.Stale = append(a.Stale, "the status has no lastUpdated time")
	} else {
		a.Age = now.Sub(st.LastUpdated.Time)
	}
	if st.ObservedGeneration != obj.Generation {
		a.Stale = append(a.Stale, fmt.Sprintf("collected for generation %d of the spec, which is now at generation %d: the agent on node %s has not caught up",
			st.ObservedGeneration, obj.Generation, obj.Spec.Node))
	}
	period := int32(0)
	if obj.Spec.UpdatePeriodSeconds != nil {
		period = *obj.Spec.UpdatePeriodSeconds
	}
	if rep := st.Reporter; rep != nil && rep.Pod != "" {
		a.Pod = rep.Namespace + "/" + rep.Pod
	}
	if period <= 0 {
		a.Snapshot = true
		return a
	}
	if a.Pod != "" {
		a.podFreshness(obj, now, pods)
		return a
	}
	heartbeat := v3.DefaultHeartbeat
	if rep := st.Reporter; rep != nil {
		heartbeat = time.Duration(rep.HeartbeatSeconds) * time.Second
	}
	if heartbeat <= 0 {
		a.Unknown = append(a.Unknown, fmt.Sprintf("the agent on node %s names no Pod and writes no heartbeat: whether it still runs cannot be told from here", obj.Spec.Node))
		return a
	}
	if limit := StaleAfter(period, heartbeat); !st.LastUpdated.IsZero() && a.Age > limit {
		a.Stale = append(a.Stale, fmt.Sprintf("last updated %s ago, but a %ds period and the agent's %s heartbeat mean an update at least every %s (stale after %s): is the agent on node %s running?",
			human(a.Age), period, human(heartbeat), human(max(time.Duration(period)*time.Second, heartbeat)), human(limit), obj.Spec.Node))
	}
	return a
}

// podFreshness judges the status by the agent Pod it names: current while that Pod (same UID, on the
// status's node) is Ready, however old lastUpdated is; stale when the Pod is gone, replaced, elsewhere or
// not Ready; unknown when it cannot be read.
func (a *Assessment) podFreshness(obj *v3.CalicoNodeStatus, now time.Time, pods Pods) {
	rep := obj.Status.Reporter
	if pods == nil {
		a.Unknown = append(a.Unknown, fmt.Sprintf("freshness unknown: agent pod %s was not read", a.Pod))
		return
	}
	pod, err := pods(rep.Namespace, rep.Pod)
	switch {
	case apierrors.IsNotFound(err):
		a.Stale = append(a.Stale, fmt.Sprintf("agent pod %s is gone; nothing has written this status since (last change %s)", a.Pod, changed(obj, now)))
		return
	case err != nil:
		a.Unknown = append(a.Unknown, fmt.Sprintf("freshness unknown: cannot read pod %s: %v", a.Pod, err))
		return
	case rep.UID != "" && string(pod.UID) != rep.UID:
		a.Stale = append(a.Stale, fmt.Sprintf("agent pod %s is gone (a new Pod of that name has not written this status yet); nothing has written it since (last change %s)", a.Pod, changed(obj, now)))
		return
	case pod.Spec.NodeName != obj.Spec.Node:
		a.Stale = append(a.Stale, fmt.Sprintf("agent pod %s runs on node %q, not on node %s", a.Pod, pod.Spec.NodeName, obj.Spec.Node))
		return
	}
	var ready *corev1.PodCondition
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			ready = &pod.Status.Conditions[i]
		}
	}
	switch {
	case ready == nil:
		a.Stale = append(a.Stale, fmt.Sprintf("agent pod %s has not been ready yet (phase %s)", a.Pod, pod.Status.Phase))
	case ready.Status != corev1.ConditionTrue:
		since := "since an unknown time"
		if t := ready.LastTransitionTime; !t.IsZero() {
			since = fmt.Sprintf("since %s (%s ago)", t.UTC().Format(time.RFC3339), human(now.Sub(t.Time)))
		}
		why := joinNonEmpty(": ", ready.Reason, ready.Message)
		if why == "" {
			why = "no message"
		}
		a.Stale = append(a.Stale, fmt.Sprintf("agent pod %s is not ready %s: %s (its /readyz says why, in the Pod's events)", a.Pod, since, why))
	}
}

// changed says when obj's status last changed, for a message.
func changed(obj *v3.CalicoNodeStatus, now time.Time) string {
	if obj.Status.LastUpdated.IsZero() {
		return "unknown"
	}
	return human(now.Sub(obj.Status.LastUpdated.Time)) + " ago"
}

// Verdict is the one-line summary: WAITING, or READY / NOT READY / READY UNKNOWN, with STALE before it
// when stale (e.g. "STALE, NOT READY").
func (a Assessment) Verdict() string {
	if a.Waiting {
		return "WAITING"
	}
	var words []string
	if len(a.Stale) > 0 {
		words = append(words, "STALE")
	}
	switch a.Ready {
	case metav1.ConditionTrue:
		words = append(words, "READY")
	case metav1.ConditionFalse:
		words = append(words, "NOT READY")
	default:
		words = append(words, "READY UNKNOWN")
	}
	return strings.Join(words, ", ")
}

func findCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// human prints a duration the way kubectl prints ages ("7s", "5m30s", "2d3h").
func human(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	return duration.HumanDuration(d)
}
