package status

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Desired is the status to hold for obj given the sections just collected. It keeps obj's conditions'
// transition times when their status does not change, keeps obj's times where BIRD only jittered them
// (keepStableTimes) and obj's peers that BIRD is still retrying for the same reason (keepRetryingPeers),
// and does not set lastUpdated: the caller does, only when it writes.
func Desired(obj *v3.CalicoNodeStatus, s Sections) v3.CalicoNodeStatusStatus {
	st := v3.CalicoNodeStatusStatus{
		LastUpdated: obj.Status.LastUpdated,
		// Copies: the smoothing below edits them against obj's status, and a write retried after a
		// conflict calls this again with the same sections and a fresher obj.
		Agent:              s.Agent.DeepCopy(),
		BGP:                s.BGP.DeepCopy(),
		Routes:             s.Routes,
		ObservedGeneration: obj.Generation,
		Conditions:         append([]metav1.Condition(nil), obj.Status.Conditions...),
	}
	keepStableTimes(&obj.Status, &st)
	keepRetryingPeers(&obj.Status, &st)
	ready := readyCondition(s)
	ready.ObservedGeneration = obj.Generation
	if p := obj.Spec.UpdatePeriodSeconds; p != nil && *p == 0 && ready.Reason == v3.ReasonCollected {
		// Complete, but a one-off: say so where operators look first.
		ready.Reason = v3.ReasonRefreshDisabled
		ready.Message = fmt.Sprintf("collected completely once for generation %d; updatePeriodSeconds is 0, so it is not refreshed", obj.Generation)
	}
	meta.SetStatusCondition(&st.Conditions, ready)

	refreshing := metav1.Condition{Type: v3.ConditionRefreshing, Status: metav1.ConditionTrue, Reason: v3.ReasonPeriodic,
		ObservedGeneration: obj.Generation}
	if p := obj.Spec.UpdatePeriodSeconds; p != nil && *p == 0 {
		refreshing.Status = metav1.ConditionFalse
		refreshing.Reason = v3.ReasonRefreshDisabled
		refreshing.Message = fmt.Sprintf("updatePeriodSeconds is 0: collected once for generation %d and not refreshed", obj.Generation)
	} else if p != nil {
		refreshing.Message = fmt.Sprintf("refreshed every %d s", *p)
	}
	meta.SetStatusCondition(&st.Conditions, refreshing)
	return st
}

// maxConditionMessageBytes bounds the Ready message (every issue of every section is listed in it).
const maxConditionMessageBytes = 2048

// issueRank orders reasons by how much they matter to an operator: the first one present becomes the
// Ready condition's reason.
var issueRank = []string{v3.ReasonDaemonUnreachable, v3.ReasonCollectionFailed, v3.ReasonPartialParse, v3.ReasonRoutesTruncated, v3.ReasonPeersTruncated, v3.ReasonVersionUnrecognized}

// readyCondition is True when every requested section was collected completely, otherwise False with the
// most important reason and every issue in the message.
func readyCondition(s Sections) metav1.Condition {
	type tagged struct {
		section string
		issue   v3.StatusIssue
	}
	var all []tagged
	add := func(section string, issues []v3.StatusIssue) {
		for _, is := range issues {
			all = append(all, tagged{section, is})
		}
	}
	if s.Agent != nil {
		add("agent", s.Agent.Issues)
	}
	if s.BGP != nil {
		add("bgp", s.BGP.Issues)
	}
	if s.Routes != nil {
		add("routes", s.Routes.Issues)
	}
	if len(all) == 0 {
		return metav1.Condition{Type: v3.ConditionReady, Status: metav1.ConditionTrue, Reason: v3.ReasonCollected,
			Message: "every requested class was collected completely"}
	}
	present := map[string]bool{}
	for _, t := range all {
		present[t.issue.Reason] = true
	}
	reason := all[0].issue.Reason
	for _, r := range issueRank {
		if present[r] {
			reason = r
			break
		}
	}
	var msg strings.Builder
	for i, t := range all {
		if i > 0 {
			msg.WriteString("; ")
		}
		fmt.Fprintf(&msg, "%s", t.section)
		if t.issue.Family != "" {
			fmt.Fprintf(&msg, " %s", t.issue.Family)
		}
		fmt.Fprintf(&msg, ": %s: %s", t.issue.Reason, t.issue.Message)
	}
	m := ClampText(msg.String(), maxConditionMessageBytes)
	// Truncated lists are a size policy, not a failure: the status is still complete for what it holds.
	// So is an unrecognised version read in a decided dialect: the issue says which, and anything that
	// then failed to parse adds its own issue, which outranks it.
	status := metav1.ConditionFalse
	if reason == v3.ReasonRoutesTruncated || reason == v3.ReasonPeersTruncated || reason == v3.ReasonVersionUnrecognized {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{Type: v3.ConditionReady, Status: status, Reason: reason, Message: m}
}

// OverCap is the status of an object the agent does not serve: only a Ready condition saying why.
func OverCap(obj *v3.CalicoNodeStatus, total, max int) v3.CalicoNodeStatusStatus {
	st := v3.CalicoNodeStatusStatus{LastUpdated: obj.Status.LastUpdated, ObservedGeneration: obj.Generation,
		Conditions: append([]metav1.Condition(nil), obj.Status.Conditions...)}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: v3.ConditionReady, Status: metav1.ConditionFalse,
		Reason: v3.ReasonTooManyObjects, ObservedGeneration: obj.Generation,
		Message: fmt.Sprintf("node %s has %d CalicoNodeStatus objects; its agent serves the %d oldest (--max-objects-per-node): delete objects you no longer need, one per node is enough", obj.Spec.Node, total, max)})
	meta.RemoveStatusCondition(&st.Conditions, v3.ConditionRefreshing)
	return st
}
