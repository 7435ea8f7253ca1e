package agent

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

func TestRetryDelayIsCappedAtThePeriodAndAMinute(t *testing.T) {
	for _, tc := range []struct {
		backoff, period, want time.Duration
	}{
		{200 * time.Millisecond, 10 * time.Second, 200 * time.Millisecond},
		{1000 * time.Second, 10 * time.Second, 10 * time.Second}, // client-go's default cap was 1000 s
		{1000 * time.Second, time.Hour, time.Minute},
		{1000 * time.Second, 0, time.Minute}, // refresh disabled: still retried within a minute
		{30 * time.Second, 0, 30 * time.Second},
	} {
		if got := retryDelay(tc.backoff, tc.period); got != tc.want {
			t.Errorf("retryDelay(%v, period %v) = %v, want %v", tc.backoff, tc.period, got, tc.want)
		}
	}
}

func TestNeedsRunNow(t *testing.T) {
	obj := func(uid string, gen int64) *v3.CalicoNodeStatus {
		return &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "o", UID: types.UID(uid), Generation: gen}}
	}
	for _, tc := range []struct {
		name     string
		old, cur *v3.CalicoNodeStatus
		want     bool
	}{
		{"own status write (same object, same generation)", obj("a", 1), obj("a", 1), false},
		{"spec change", obj("a", 1), obj("a", 2), true},
		{"recreated under the same name, same generation", obj("a", 1), obj("b", 1), true},
	} {
		if got := needsRunNow(tc.old, tc.cur); got != tc.want {
			t.Errorf("%s: needsRunNow = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// startFakeWatchController runs the real Controller on an informer fed by a fake watch.
func startFakeWatchController(t *testing.T, node string, src *scriptedSource) (*watch.FakeWatcher, *fakeStore, *Reconciler) {
	t.Helper()
	fw := watch.NewFake()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
			return &v3.CalicoNodeStatusList{ListMeta: metav1.ListMeta{ResourceVersion: "1"}}, nil
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) { return fw, nil },
	}
	inf := cache.NewSharedIndexInformer(noWatchList{lw}, &v3.CalicoNodeStatus{}, 0, cache.Indexers{})
	store := newFakeStoreOver(inf.GetIndexer())
	r := NewReconciler(Options{Store: store, NodeName: node, Source: src, Log: slog.New(slog.DiscardHandler)})
	ctrl, err := NewController(r, inf, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 10*time.Second, "the informer to sync", ctrl.Synced)
	return fw, store, r
}

// noWatchList makes the reflector list then watch: the fake watch sends no initial-events bookmark.
type noWatchList struct{ *cache.ListWatch }

func (noWatchList) IsWatchListSemanticsUnSupported() bool { return true }

func fakeObject(node, uid string, period int32) *v3.CalicoNodeStatus {
	return &v3.CalicoNodeStatus{
		ObjectMeta: metav1.ObjectMeta{Name: "recreated", UID: types.UID(uid), Generation: 1, ResourceVersion: uid},
		Spec:       v3.CalicoNodeStatusSpec{Node: node, Classes: classesAll(), UpdatePeriodSeconds: &period},
	}
}

// An object deleted and recreated under the same name while the watch was down comes back from the relist
// as an update with a new UID and the same generation. It used to be dropped as "our own status write";
// with refresh disabled (period 0) nothing else would ever collect it.
func TestControllerCollectsAnObjectRecreatedDuringAWatchOutage(t *testing.T) {
	const node = "recreate-node"
	fw, store, _ := startFakeWatchController(t, node, &scriptedSource{snap: nodeSnapshot("10.9.0.1", "Established")})
	first := fakeObject(node, "uid-1", 0)
	fw.Add(first)
	testenv.Eventually(t, 10*time.Second, "the first object's status write", func() bool { return store.writesOf("uid-1") == 1 })

	second := fakeObject(node, "uid-2", 0)
	second.ResourceVersion = "uid-2"
	fw.Modify(second)
	testenv.Eventually(t, 10*time.Second, "the recreated object's status write", func() bool { return store.writesOf("uid-2") == 1 })
}

// A failing write is retried within the object's period, not after client-go's default backoff (up to
// 1000 s): after an outage the status is at most about one period stale.
func TestControllerRetriesAFailingWriteWithinThePeriod(t *testing.T) {
	const node = "retry-node"
	src := &scriptedSource{snap: nodeSnapshot("10.9.0.2", "Established")}
	fw, store, r := startFakeWatchController(t, node, src)
	store.setFail(errors.New("API server unavailable"))
	fw.Add(fakeObject(node, "uid-r", 1))
	// Capped at the 1 s period, 15 attempts take about 14 s; client-go's default backoff (5 ms doubling,
	// up to 1000 s) needs about 160 s for them.
	testenv.Eventually(t, 40*time.Second, "15 retries of the failing write", func() bool { return store.attempts() >= 15 })
	if p := r.periodOf("recreated"); p != time.Second {
		t.Fatalf("periodOf = %v, want 1s", p)
	}
	store.setFail(nil)
	testenv.Eventually(t, 10*time.Second, "the write once the API server is back", func() bool { return store.writesOf("uid-r") >= 1 })
}
