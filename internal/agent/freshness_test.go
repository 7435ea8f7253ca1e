package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

func TestHeartbeatFor(t *testing.T) {
	pod := PodRef{Name: "agent-x", Namespace: "ns", UID: "u"}
	for _, tc := range []struct {
		name string
		o    Options
		want time.Duration
	}{
		{"in a Pod, default: none (the Pod's readiness is the signal)", Options{Pod: pod}, 0},
		{"outside a Pod, default: v3.DefaultHeartbeat", Options{}, v3.DefaultHeartbeat},
		{"in a Pod, explicit", Options{Pod: pod, Heartbeat: time.Hour}, time.Hour},
		{"outside a Pod, explicit", Options{Heartbeat: 20 * time.Minute}, 20 * time.Minute},
		{"outside a Pod, off", Options{Heartbeat: -1}, 0},
	} {
		if got := heartbeatFor(tc.o); got != tc.want {
			t.Errorf("%s: heartbeat %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestReporterFor(t *testing.T) {
	if got := reporterFor(PodRef{Name: "p", Namespace: "n", UID: "u"}, 0); *got != (v3.StatusReporter{Pod: "p", Namespace: "n", UID: "u"}) {
		t.Errorf("in a Pod without heartbeat: %+v", *got)
	}
	if got := reporterFor(PodRef{}, 1500*time.Millisecond); *got != (v3.StatusReporter{HeartbeatSeconds: 2}) {
		t.Errorf("outside a Pod, heartbeat 1.5s: %+v, want heartbeatSeconds 2 (rounded up)", *got)
	}
}

func TestPodRefValidate(t *testing.T) {
	for _, tc := range []struct {
		p  PodRef
		ok bool
	}{
		{PodRef{}, true},
		{PodRef{Name: "p", Namespace: "n"}, true},
		{PodRef{Name: "p", Namespace: "n", UID: "u"}, true},
		{PodRef{Name: "p"}, false},
		{PodRef{Namespace: "n", UID: "u"}, false},
		{PodRef{Name: "p", Namespace: strings.Repeat("n", v3.MaxNamespaceLength+1)}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", tc.p, err, tc.ok)
		}
	}
}

func freshnessFixture(t *testing.T, pod PodRef) (*fakeStore, *Reconciler, *time.Time) {
	t.Helper()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	p := int32(10)
	store := newFakeStore(&v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 1, ResourceVersion: "0"},
		Spec: v3.CalicoNodeStatusSpec{Node: "n", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: &p}})
	src := &scriptedSource{}
	src.set(bird.Snapshot{V4: bird.DaemonSnapshot{Family: bird.IPv4, Protocols: []bird.Protocol{
		birdPeer("Mesh_10_99_0_2", "10.99.0.2", "up", "Established", "2026-11-24 09:00:00", "")}}})
	r := NewReconciler(Options{Store: store, NodeName: "n", Source: src, Pod: pod, Now: func() time.Time { return now }})
	return store, r, &now
}

// TestAgentInAPodWritesReporterAndNoHeartbeat: an agent that knows its Pod records it in the status and
// leaves an unchanged status alone however long (lastUpdated is the last change); one outside a Pod
// records and keeps its heartbeat.
func TestAgentInAPodWritesReporterAndNoHeartbeat(t *testing.T) {
	pod := PodRef{Name: "agent-x", Namespace: "cns", UID: "uid-1"}
	store, r, now := freshnessFixture(t, pod)
	for i := 0; i < 400; i++ { // 400 periods of 10 s: over an hour, far beyond the old 5-minute heartbeat
		if _, err := r.Reconcile(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(10 * time.Second)
	}
	if store.writes() != 1 {
		t.Errorf("in a Pod, nothing changing for over an hour: %d writes, want 1", store.writes())
	}
	if got := store.get("x").Status.Reporter; got == nil || *got != (v3.StatusReporter{Pod: "agent-x", Namespace: "cns", UID: "uid-1"}) {
		t.Errorf("status.reporter = %+v, want the Pod and no heartbeat", got)
	}

	// The Pod replaced: the new reporter is a change, written once.
	r2 := NewReconciler(Options{Store: store, NodeName: "n", Source: r.Source, Pod: PodRef{Name: "agent-y", Namespace: "cns", UID: "uid-2"}, Now: r.Now})
	for i := 0; i < 3; i++ {
		if _, err := r2.Reconcile(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(10 * time.Second)
	}
	if store.writes() != 2 || store.get("x").Status.Reporter.Pod != "agent-y" {
		t.Errorf("after the Pod was replaced: %d writes, reporter %+v; want 2 writes and agent-y", store.writes(), store.get("x").Status.Reporter)
	}

	outside, ro, now2 := freshnessFixture(t, PodRef{})
	for i := 0; i < 61; i++ { // 10 minutes and 10 s
		if _, err := ro.Reconcile(context.Background(), "x"); err != nil {
			t.Fatal(err)
		}
		*now2 = now2.Add(10 * time.Second)
	}
	if outside.writes() != 3 {
		t.Errorf("outside a Pod, 10 minutes unchanged: %d writes, want 3 (the first and two heartbeats)", outside.writes())
	}
	if got := outside.get("x").Status.Reporter; got == nil || *got != (v3.StatusReporter{HeartbeatSeconds: int32(v3.DefaultHeartbeat / time.Second)}) {
		t.Errorf("outside a Pod: status.reporter = %+v, want heartbeatSeconds %d and no Pod", got, int32(v3.DefaultHeartbeat/time.Second))
	}
}

// TestReadyErrorWhenWritesFail: a status built but not written for longer than max(2×period, 60 s) makes
// the agent not ready, with the write's error; a write that succeeds again makes it ready.
func TestReadyErrorWhenWritesFail(t *testing.T) {
	store, r, now := freshnessFixture(t, PodRef{Name: "agent-x", Namespace: "cns"})
	ctx := context.Background()
	if _, err := r.Reconcile(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadyError(); err != nil {
		t.Fatalf("after a write: %v", err)
	}
	denied := apierrors.NewForbidden(schema.GroupResource{Group: v3.GroupVersion.Group, Resource: "caliconodestatuses"}, "x", errors.New("denied by policy"))
	store.setFail(denied)
	// Change the content, so there is something to write: the peer goes down.
	r.Source.(*scriptedSource).set(bird.Snapshot{V4: bird.DaemonSnapshot{Family: bird.IPv4, Protocols: []bird.Protocol{
		birdPeer("Mesh_10_99_0_2", "10.99.0.2", "start", "Active", "2026-11-24 10:00:05", refused)}}})
	var firstFail time.Time
	for i := 0; i < 10; i++ {
		*now = now.Add(10 * time.Second)
		if _, err := r.Reconcile(ctx, "x"); err == nil {
			t.Fatal("a denied write reconciled without an error")
		}
		if firstFail.IsZero() {
			firstFail = *now
		}
		err := r.ReadyError()
		if elapsed := now.Sub(firstFail); elapsed <= v3.MinUnwrittenBound && err != nil {
			t.Fatalf("%s after the first denied write (bound %s): not ready already: %v", elapsed, v3.MinUnwrittenBound, err)
		} else if elapsed > v3.MinUnwrittenBound && (err == nil || !strings.Contains(err.Error(), "denied by policy") || !strings.Contains(err.Error(), "caliconodestatus x")) {
			t.Fatalf("%s after the first denied write: ReadyError = %v, want one naming x and the denial", elapsed, err)
		}
	}
	store.setFail(nil)
	*now = now.Add(10 * time.Second)
	if _, err := r.Reconcile(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadyError(); err != nil {
		t.Errorf("after the write succeeded again: %v", err)
	}
}

// TestReadyErrorWhenCollectionsStop: an object whose collections stopped (nothing reconciles it) makes
// the agent not ready after the bound; an object with refresh disabled never does.
func TestReadyErrorWhenCollectionsStop(t *testing.T) {
	store, r, now := freshnessFixture(t, PodRef{Name: "agent-x", Namespace: "cns"})
	if _, err := r.Reconcile(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(v3.MinUnwrittenBound)
	if err := r.ReadyError(); err != nil {
		t.Fatalf("%s after the last collection (the bound): %v", v3.MinUnwrittenBound, err)
	}
	*now = now.Add(time.Second)
	if err := r.ReadyError(); err == nil || !strings.Contains(err.Error(), "collections stopped") {
		t.Fatalf("past the bound without a collection: ReadyError = %v, want collections stopped", err)
	}

	zero := int32(0)
	o := store.get("x")
	o.Spec.UpdatePeriodSeconds = &zero
	o.Generation = 2
	store.put(o)
	if _, err := r.Reconcile(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(24 * time.Hour)
	if err := r.ReadyError(); err != nil {
		t.Errorf("refresh disabled, a day later: %v", err)
	}
}
