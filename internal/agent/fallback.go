package agent

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/collect"
)

// fallbackRetry is how long after the API server refused a full status the agent writes counts only,
// whatever changes, before it tries a full status again. The same refused content is never retried.
const fallbackRetry = 10 * time.Minute

// countsOnlyFallback keeps a status the API server refuses (too large for etcd, or invalid against the
// CRD) from being retried unchanged forever: after a refusal the object gets the counts without the
// lists and a CountsOnly condition saying why, and the full status is tried again only when it changed
// and fallbackRetry has passed. The caps and the byte budget of the mapping make a refusal unexpected;
// this is the net under them (another agent's version, a CRD with tighter bounds, etcd's limit lowered).
type countsOnlyFallback struct {
	mu      sync.Mutex
	refused map[string]refusal
}

type refusal struct {
	sum [32]byte // of the refused sections
	at  time.Time
	why string
}

// apply returns the status to write for object name: st itself, or its counts-only form while a
// refusal holds. A status written in full carries no CountsOnly condition.
func (f *countsOnlyFallback) apply(name string, st v3.CalicoNodeStatusStatus, now time.Time) v3.CalicoNodeStatusStatus {
	f.mu.Lock()
	ref, ok := f.refused[name]
	f.mu.Unlock()
	if ok && (ref.sum == sectionsSum(st) || now.Sub(ref.at) < fallbackRetry) {
		return countsOnly(st, ref.why)
	}
	meta.RemoveStatusCondition(&st.Conditions, v3.ConditionCountsOnly)
	return st
}

// refuse records that the API server refused st for object name, when err says it was too large or
// invalid and st was a full status. It reports whether the counts-only form should be written instead.
func (f *countsOnlyFallback) refuse(name string, st v3.CalicoNodeStatusStatus, err error, now time.Time) bool {
	if !refusedForContent(err) || isCountsOnly(st) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused == nil {
		f.refused = map[string]refusal{}
	}
	f.refused[name] = refusal{sum: sectionsSum(st), at: now, why: collect.ClampText(err.Error(), 512)}
	return true
}

func (f *countsOnlyFallback) forget(name string) {
	f.mu.Lock()
	delete(f.refused, name)
	f.mu.Unlock()
}

// refusedForContent: a write refused for what it holds, not for when it was sent: 413 (the API server's
// body limit), 422 (the CRD's schema), or etcd's "request is too large" (a 500 from the API server).
func refusedForContent(err error) bool {
	return apierrors.IsRequestEntityTooLargeError(err) || apierrors.IsInvalid(err) ||
		(err != nil && strings.Contains(err.Error(), "request is too large"))
}

func isCountsOnly(st v3.CalicoNodeStatusStatus) bool {
	return meta.IsStatusConditionTrue(st.Conditions, v3.ConditionCountsOnly)
}

// sectionsSum identifies the sections' content (the part that can be too large).
func sectionsSum(st v3.CalicoNodeStatusStatus) [32]byte {
	b, err := json.Marshal([]any{st.Agent, st.BGP, st.Routes})
	if err != nil {
		return [32]byte{} // plain structs: cannot happen; an all-zero sum matches nothing recorded
	}
	return sha256.Sum256(b)
}

// countsOnly is st without its peer and route lists, the counts and the rest kept, with an issue in
// each section it cut and the CountsOnly condition.
func countsOnly(st v3.CalicoNodeStatusStatus, why string) v3.CalicoNodeStatusStatus {
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
		Message: fmt.Sprintf("lists omitted, counts kept: the API server refused the full status (%s); it is tried again when it changes, at most every %v", why, fallbackRetry)})
	return out
}

// addIssue appends is, replacing the last issue when the section is at the CRD's maxItems.
func addIssue(issues []v3.StatusIssue, is v3.StatusIssue) []v3.StatusIssue {
	if len(issues) >= v3.MaxIssuesPerSection {
		issues = issues[:v3.MaxIssuesPerSection-1]
	}
	return append(issues, is)
}
