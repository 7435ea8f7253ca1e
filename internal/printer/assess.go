package printer

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

const (
	// HeartbeatFloor is the longest the agent leaves lastUpdated unchanged while refresh is enabled, when
	// that is longer than the period (the contract: at least every max(updatePeriodSeconds, 5 minutes)).
	// An agent run with a longer --heartbeat is not known here: its statuses look stale between writes.
	HeartbeatFloor = v3.DefaultHeartbeat
	// StaleSlack absorbs API latency, the agent's jitter and small clock differences before a status is
	// called stale.
	StaleSlack = 30 * time.Second
)

// StaleAfter is how old status.lastUpdated may be before the status is stale, for a refresh period in
// seconds: max(2×period, HeartbeatFloor) + StaleSlack. Twice the period, so one missed or late write is
// not yet stale. Zero when refresh is disabled (period 0): such a status is a snapshot, never stale by age.
func StaleAfter(periodSeconds int32) time.Duration {
	if periodSeconds <= 0 {
		return 0
	}
	d := 2 * time.Duration(periodSeconds) * time.Second
	if d < HeartbeatFloor {
		d = HeartbeatFloor
	}
	return d + StaleSlack
}

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
}

// Assess judges obj's status at time now.
func Assess(obj *v3.CalicoNodeStatus, now time.Time) Assessment {
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
	if period <= 0 {
		a.Snapshot = true
	} else if limit := StaleAfter(period); !st.LastUpdated.IsZero() && a.Age > limit {
		a.Stale = append(a.Stale, fmt.Sprintf("last updated %s ago, but a %ds period means an update at least every %s (stale after %s): is the agent on node %s running?",
			human(a.Age), period, human(maxDuration(time.Duration(period)*time.Second, HeartbeatFloor)), human(limit), obj.Spec.Node))
	}
	return a
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

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// human prints a duration the way kubectl prints ages ("7s", "5m30s", "2d3h").
func human(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	return duration.HumanDuration(d)
}
