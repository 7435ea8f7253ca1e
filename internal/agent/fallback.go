package agent

import (
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/status"
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
	if ok && (ref.sum == status.SectionsSum(st) || now.Sub(ref.at) < fallbackRetry) {
		return status.CountsOnly(st, ref.why, fallbackRetry)
	}
	meta.RemoveStatusCondition(&st.Conditions, v3.ConditionCountsOnly)
	return st
}

// refuse records that the API server refused st for object name, when err says it was too large or
// invalid and st was a full status. It reports whether the counts-only form should be written instead.
func (f *countsOnlyFallback) refuse(name string, st v3.CalicoNodeStatusStatus, err error, now time.Time) bool {
	if !refusedForContent(err) || status.IsCountsOnly(st) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused == nil {
		f.refused = map[string]refusal{}
	}
	f.refused[name] = refusal{sum: status.SectionsSum(st), at: now, why: status.ClampText(err.Error(), 512)}
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
