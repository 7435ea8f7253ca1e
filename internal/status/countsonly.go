package status

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// IsCountsOnly says st is the counts-only form CountsOnly makes.
func IsCountsOnly(st v3.CalicoNodeStatusStatus) bool {
	return meta.IsStatusConditionTrue(st.Conditions, v3.ConditionCountsOnly)
}

// SectionsSum identifies the sections' content (the part that can be too large).
func SectionsSum(st v3.CalicoNodeStatusStatus) [32]byte {
	b, err := json.Marshal([]any{st.Agent, st.BGP, st.Routes})
	if err != nil {
		return [32]byte{} // plain structs: cannot happen; an all-zero sum matches nothing recorded
	}
	return sha256.Sum256(b)
}

// CountsOnly is st without its peer and route lists, the counts and the rest kept, with an issue in
// each section it cut and the CountsOnly condition.
func CountsOnly(st v3.CalicoNodeStatusStatus, why string, retry time.Duration) v3.CalicoNodeStatusStatus {
	out := *st.DeepCopy()
	const note = "omitted: the API server refused the full status; the counts are complete"
	if b := out.BGP; b != nil {
		b.PeersTruncated = b.PeersTruncated || len(b.PeersV4)+len(b.PeersV6) > 0
		b.PeersV4, b.PeersV6 = nil, nil
		// Family "" and a reason other than PartialParse: the peers are unknown here, not gone, so no
		// PeerDown Event is derived from their absence.
		b.Issues = addIssue(b.Issues, v3.StatusIssue{Reason: v3.ReasonStatusRefused, Message: "peer lists " + note})
	}
	if r := out.Routes; r != nil {
		r.Truncated = r.Truncated || len(r.RoutesV4)+len(r.RoutesV6) > 0
		r.RoutesV4, r.RoutesV6 = nil, nil
		r.Issues = addIssue(r.Issues, v3.StatusIssue{Reason: v3.ReasonStatusRefused, Message: "route lists " + note})
	}
	meta.SetStatusCondition(&out.Conditions, metav1.Condition{Type: v3.ConditionCountsOnly, Status: metav1.ConditionTrue,
		Reason: v3.ReasonStatusRefused, ObservedGeneration: out.ObservedGeneration,
		Message: fmt.Sprintf("lists omitted, counts kept: the API server refused the full status (%s); it is tried again when it changes, at most every %v", why, retry)})
	return out
}

// addIssue appends is, replacing the last issue when the section is at the CRD's maxItems.
func addIssue(issues []v3.StatusIssue, is v3.StatusIssue) []v3.StatusIssue {
	if len(issues) >= v3.MaxIssuesPerSection {
		issues = issues[:v3.MaxIssuesPerSection-1]
	}
	return append(issues, is)
}
