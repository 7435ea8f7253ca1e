package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

func cnsObject(name, node string, classes ...v3.NodeStatusClassType) *v3.CalicoNodeStatus {
	period := int32(10)
	if len(classes) == 0 {
		classes = []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}
	}
	return &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1, ResourceVersion: "1"},
		Spec: v3.CalicoNodeStatusSpec{Node: node, Classes: classes, UpdatePeriodSeconds: &period}}
}

type snapshotFunc func(ctx context.Context, need bird.Need) bird.Snapshot

func (f snapshotFunc) Collect(ctx context.Context, need bird.Need) bird.Snapshot { return f(ctx, need) }

func freshMetrics(t *testing.T) *Metrics {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func statusIssues(st v3.CalicoNodeStatusStatus) []v3.StatusIssue {
	var out []v3.StatusIssue
	if st.Agent != nil {
		out = append(out, st.Agent.Issues...)
	}
	if st.BGP != nil {
		out = append(out, st.BGP.Issues...)
	}
	if st.Routes != nil {
		out = append(out, st.Routes.Issues...)
	}
	return out
}

// TestCollectionPanicBecomesSectionIssues: a source that panics (outside bird's own recovery) does not end
// the reconcile: every section reports CollectionFailed naming the panic, the status is written, and
// panics_total{where=collect} counts it.
func TestCollectionPanicBecomesSectionIssues(t *testing.T) {
	store := newFakeStore(cnsObject("cns", "node1"))
	m := freshMetrics(t)
	r := NewReconciler(Options{Store: store, NodeName: "node1", Metrics: m,
		Source: snapshotFunc(func(context.Context, bird.Need) bird.Snapshot {
			var s []int
			_ = s[3] // index out of range, as a real bug would
			return bird.Snapshot{}
		})})
	if _, err := r.safeReconcile(context.Background(), "cns"); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	st := store.get("cns").Status
	issues := statusIssues(st)
	if len(issues) != 6 {
		t.Fatalf("issues %+v, want one per section and family", issues)
	}
	for _, is := range issues {
		if is.Reason != v3.ReasonCollectionFailed || !strings.Contains(is.Message, "panicked") || !strings.Contains(is.Message, "index out of range") {
			t.Errorf("issue %+v, want CollectionFailed naming the panic", is)
		}
	}
	if n := testutil.ToFloat64(m.panics.WithLabelValues(panicCollect)); n != 1 {
		t.Errorf("panics_total{where=collect} = %v, want 1", n)
	}
}

// TestParserPanicCountedOnce: a section failed by a parser panic (what bird.Collector returns) is
// reported in its section and counted once per collection under where=parse, even when BIRD 2 gives the
// same error to both families.
func TestParserPanicCountedOnce(t *testing.T) {
	store := newFakeStore(cnsObject("cns", "node1"))
	m := freshMetrics(t)
	pe := &bird.PanicError{Command: bird.CmdRoutes, Value: "boom"}
	r := NewReconciler(Options{Store: store, NodeName: "node1", Metrics: m,
		Source: snapshotFunc(func(context.Context, bird.Need) bird.Snapshot {
			s := nodeSnapshot("10.0.0.1", "Established")
			s.V4.Routes, s.V4.RoutesErr = nil, pe
			s.V6.Routes, s.V6.RoutesErr = nil, pe
			return s
		})})
	if _, err := r.safeReconcile(context.Background(), "cns"); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	st := store.get("cns").Status
	if len(st.Routes.Issues) != 2 || st.Routes.Issues[0].Reason != v3.ReasonCollectionFailed || len(st.BGP.PeersV4) != 2 {
		t.Fatalf("routes issues %+v, %d peers: want the routes failed and the peers kept", st.Routes.Issues, len(st.BGP.PeersV4))
	}
	if n := testutil.ToFloat64(m.panics.WithLabelValues(panicParse)); n != 1 {
		t.Errorf("panics_total{where=parse} = %v, want 1", n)
	}
}

// TestReconcilePanicBecomesError: a reconcile that panics returns an error (the controller retries with
// backoff) and counts panics_total{where=reconcile}; the next reconcile works.
func TestReconcilePanicBecomesError(t *testing.T) {
	store := newFakeStore(cnsObject("cns", "node1"))
	boom := true
	store.onCached = func(string) {
		if boom {
			boom = false
			panic(errors.New("cache exploded"))
		}
	}
	m := freshMetrics(t)
	r := NewReconciler(Options{Store: store, NodeName: "node1", Metrics: m,
		Source: snapshotFunc(func(context.Context, bird.Need) bird.Snapshot { return nodeSnapshot("10.0.0.1", "Established") })})
	_, err := r.safeReconcile(context.Background(), "cns")
	if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "cache exploded") {
		t.Fatalf("reconcile: %v, want an error naming the panic", err)
	}
	if n := testutil.ToFloat64(m.panics.WithLabelValues(panicReconcile)); n != 1 {
		t.Errorf("panics_total{where=reconcile} = %v, want 1", n)
	}
	if after, err := r.safeReconcile(context.Background(), "cns"); err != nil || after <= 0 || store.writes() != 1 {
		t.Fatalf("next reconcile: %v, next run in %v, %d writes", err, after, store.writes())
	}
}

// TestControllerSurvivesPanickingReconcile: the worker loop itself goes on after a panic.
func TestControllerSurvivesPanickingReconcile(t *testing.T) {
	store := newFakeStore(cnsObject("cns", "node1"))
	store.onCached = func(string) { panic("always") }
	r := NewReconciler(Options{Store: store, NodeName: "node1", Metrics: freshMetrics(t)})
	c := &Controller{r: r, log: quietLog(), queue: plainQueue(),
		failures: workqueue.NewTypedItemExponentialFailureRateLimiter[string](minRetryDelay, maxRetryDelay)}
	c.queue.Add("cns")
	done := make(chan bool)
	go func() { done <- c.processNext(context.Background()) }()
	select {
	case more := <-done:
		if !more {
			t.Fatal("the worker stopped")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("processNext did not return")
	}
	c.queue.ShutDown()
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func plainQueue() workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
}
