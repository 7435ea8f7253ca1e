package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// period is the updatePeriodSeconds of the tests' objects, and slack what "within one period" allows on
// top for scheduling on a busy 2-core machine (the agent's grid puts a refresh between half a period and
// one and a half periods after the previous one).
const (
	period    = 2
	periodD   = period * time.Second
	slack     = 4 * time.Second
	onePeriod = periodD + periodD/2 + slack // the longest a refresh may take to show, per the grid
)

var allClasses = []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}

// objects applies and reads CalicoNodeStatus objects as a user does.
type objects struct {
	env *testenv.Env
}

// applySample applies the contract's example (config/samples) with kubectl, its name, node and period
// replaced, and deletes the object when t ends.
func (o objects) applySample(t testing.TB, name, node string, periodSeconds int) *v3.CalicoNodeStatus {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(o.env.RepoRoot, "config", "samples", "projectcalico_v3_caliconodestatus.yaml"))
	if err != nil {
		t.Fatalf("read the sample: %v", err)
	}
	y := string(b)
	for old, repl := range map[string]string{
		"name: my-caliconodestatus-1": "name: " + name,
		"node: my-kadm-node-0":        "node: " + node,
		"updatePeriodSeconds: 10":     fmt.Sprintf("updatePeriodSeconds: %d", periodSeconds),
	} {
		if !strings.Contains(y, old) {
			t.Fatalf("the sample no longer holds %q:\n%s", old, y)
		}
		y = strings.Replace(y, old, repl, 1)
	}
	t.Cleanup(func() { o.delete(t, name) })
	if out, err := o.env.Kubectl(ctxT(t, 30*time.Second), y, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	return o.get(t, name)
}

func (o objects) get(t testing.TB, name string) *v3.CalicoNodeStatus {
	t.Helper()
	obj, err := o.tryGet(name)
	if err != nil {
		t.Fatalf("get caliconodestatus %s: %v", name, err)
	}
	return obj
}

func (o objects) tryGet(name string) (*v3.CalicoNodeStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var obj v3.CalicoNodeStatus
	if err := o.env.Client.Get(ctx, types.NamespacedName{Name: name}, &obj); err != nil {
		return nil, err
	}
	return &obj, nil
}

// patchSpec merge-patches the spec (a JSON object) and returns the object as the API server stored it.
func (o objects) patchSpec(t testing.TB, name, spec string) *v3.CalicoNodeStatus {
	t.Helper()
	obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: name}}
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":`+spec+`}`))
	if err := o.env.Client.Patch(ctxT(t, 10*time.Second), obj, patch); err != nil {
		t.Fatalf("patch spec of %s with %s: %v", name, spec, err)
	}
	return obj
}

// delete deletes the object and waits until it is gone.
func (o objects) delete(t testing.TB, name string) {
	t.Helper()
	obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := o.env.Client.Delete(ctxT(t, 10*time.Second), obj); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete %s: %v", name, err)
		return
	}
	testenv.Eventually(t, 30*time.Second, name+" gone", func() (bool, string) {
		_, err := o.tryGet(name)
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// collectedFor reports whether the status was collected for the object's current spec.
func collectedFor(obj *v3.CalicoNodeStatus) bool {
	c := meta.FindStatusCondition(obj.Status.Conditions, v3.ConditionReady)
	return obj.Status.ObservedGeneration == obj.Generation && c != nil && c.ObservedGeneration == obj.Generation
}

// waitCollected waits up to timeout until the status was collected for the current spec and cond holds.
func (o objects) waitCollected(t testing.TB, name string, timeout time.Duration, what string, cond func(*v3.CalicoNodeStatus) (bool, string)) *v3.CalicoNodeStatus {
	t.Helper()
	var last *v3.CalicoNodeStatus
	testenv.Eventually(t, timeout, name+": "+what, func() (bool, string) {
		obj, err := o.tryGet(name)
		if err != nil {
			return false, err.Error()
		}
		last = obj
		if !collectedFor(obj) {
			return false, fmt.Sprintf("generation %d, status for %d: %s", obj.Generation, obj.Status.ObservedGeneration, brief(obj))
		}
		if cond == nil {
			return true, ""
		}
		return cond(obj)
	})
	return last
}

// brief is a one-line summary of a status for failure messages.
func brief(obj *v3.CalicoNodeStatus) string {
	var b strings.Builder
	for _, c := range obj.Status.Conditions {
		fmt.Fprintf(&b, "%s=%s/%s(%s) ", c.Type, c.Status, c.Reason, c.Message)
	}
	if a := obj.Status.Agent; a != nil {
		for _, d := range []*v3.BGPDaemonStatus{a.BIRDV4, a.BIRDV6} {
			if d != nil {
				fmt.Fprintf(&b, "daemon %s %s; ", d.State, d.RouterID)
			}
		}
	}
	if s := obj.Status.BGP; s != nil {
		fmt.Fprintf(&b, "bgp %d/%d v4 %d/%d v6 issues %v; ", s.NumberEstablishedV4, s.NumberNotEstablishedV4, s.NumberEstablishedV6, s.NumberNotEstablishedV6, s.Issues)
	}
	if r := obj.Status.Routes; r != nil {
		fmt.Fprintf(&b, "routes %d v4 %d v6 issues %v", len(r.RoutesV4), len(r.RoutesV6), r.Issues)
	}
	return b.String()
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// deadPeers are the lab's configured peers nobody answers for: BIRD itself moves their sessions between
// Connect (TCP connect under way) and Active (waiting to retry) every few seconds, with or without the
// last socket error in its info.
var deadPeers = map[string]bool{"10.99.0.253": true, "fd00:99::fd": true}

// content is a status as canonical JSON without what changes with every write (lastUpdated, condition
// times). With foldDead, the dead peers' Connect/Active is folded into one value: a difference there is
// BIRD's own doing, not a change the test made.
func content(st v3.CalicoNodeStatusStatus, foldDead bool) string {
	st = *st.DeepCopy()
	st.LastUpdated = metav1.Time{}
	for i := range st.Conditions {
		st.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	if foldDead && st.BGP != nil {
		foldDeadPeers(st.BGP)
	}
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		panic(err) // a status always marshals
	}
	return string(b)
}

func foldDeadPeers(b *v3.CalicoNodeBGPStatus) {
	for _, ps := range [][]v3.CalicoNodePeer{b.PeersV4, b.PeersV6} {
		for i := range ps {
			if deadPeers[ps[i].PeerIP] && (ps[i].State == v3.BGPSessionStateConnect || ps[i].State == v3.BGPSessionStateActive) {
				// BIRD's last socket error goes with the cycle too ("Socket: No route to host", or
				// none yet after a restart of the attempt). The agent keeps the state and since it wrote
				// while BIRD retries (internal/agent keepRetryingPeers), so a fresh read differs there.
				ps[i].State, ps[i].Info, ps[i].Since = "Connect|Active", "", ""
			}
		}
	}
}

// writeKind classifies a status write by what it changed from the previous version of the object.
type writeKind string

const (
	writeSpurious writeKind = "spurious" // nothing but lastUpdated: a write that should not have happened
	writeDeadFlap writeKind = "deadflap" // only a dead peer's Connect/Active: BIRD's own change
	writeChange   writeKind = "change"   // anything else
	writeSpec     writeKind = "spec"     // the spec changed (not a status write)
)

func classify(prev, cur *v3.CalicoNodeStatus) writeKind {
	switch {
	case prev.Generation != cur.Generation:
		return writeSpec
	case content(prev.Status, false) == content(cur.Status, false):
		return writeSpurious
	case content(prev.Status, true) == content(cur.Status, true):
		return writeDeadFlap
	}
	return writeChange
}

// writeWatch records every version of one object from a resourceVersion on, through a watch: each
// MODIFIED event is one write.
type writeWatch struct {
	mu      sync.Mutex
	objs    []*v3.CalicoNodeStatus
	err     error
	stopped chan struct{}
}

func (o objects) watchWrites(t testing.TB, from *v3.CalicoNodeStatus) *writeWatch {
	t.Helper()
	wc, err := client.NewWithWatch(o.env.Config, client.Options{Scheme: o.env.Scheme})
	if err != nil {
		t.Fatalf("watch client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := wc.Watch(ctx, &v3.CalicoNodeStatusList{}, &client.ListOptions{Raw: &metav1.ListOptions{
		FieldSelector: "metadata.name=" + from.Name, ResourceVersion: from.ResourceVersion}})
	if err != nil {
		cancel()
		t.Fatalf("watch %s from resourceVersion %s: %v", from.Name, from.ResourceVersion, err)
	}
	ww := &writeWatch{objs: []*v3.CalicoNodeStatus{from.DeepCopy()}, stopped: make(chan struct{})}
	go func() {
		defer close(ww.stopped)
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Modified:
				if obj, ok := ev.Object.(*v3.CalicoNodeStatus); ok {
					ww.mu.Lock()
					ww.objs = append(ww.objs, obj)
					ww.mu.Unlock()
				}
			case watch.Error, watch.Deleted:
				ww.mu.Lock()
				ww.err = fmt.Errorf("watch event %s: %v", ev.Type, ev.Object)
				ww.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		w.Stop()
		cancel()
		<-ww.stopped
	})
	return ww
}

// writes returns the kinds of the writes seen since index from (0: since the watch began) and the
// versions written.
func (ww *writeWatch) writes(t testing.TB, from int) ([]writeKind, []*v3.CalicoNodeStatus) {
	t.Helper()
	ww.mu.Lock()
	defer ww.mu.Unlock()
	if ww.err != nil {
		t.Fatalf("%v", ww.err)
	}
	var kinds []writeKind
	for i := from + 1; i < len(ww.objs); i++ {
		kinds = append(kinds, classify(ww.objs[i-1], ww.objs[i]))
	}
	return kinds, slices.Clone(ww.objs[from+1:])
}

// seen is the number of versions recorded so far (the watch's starting version included).
func (ww *writeWatch) seen() int {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	return len(ww.objs)
}

func (ww *writeWatch) at(i int) *v3.CalicoNodeStatus {
	ww.mu.Lock()
	defer ww.mu.Unlock()
	return ww.objs[i]
}

// count counts the kinds in ks.
func count(ks []writeKind, k writeKind) int {
	n := 0
	for _, x := range ks {
		if x == k {
			n++
		}
	}
	return n
}

// events are the Events (events.k8s.io/v1, which also shows core/v1 Events) regarding obj with this
// reason: by kind and name, and by UID when the Event names one (object names are unique in a run).
func (o objects) events(t testing.TB, obj *v3.CalicoNodeStatus, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := o.env.Client.List(ctxT(t, 10*time.Second), &list); err != nil {
		t.Fatalf("list events: %v", err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		r := e.Regarding
		if r.Kind == "CalicoNodeStatus" && r.Name == obj.Name && (r.UID == "" || r.UID == obj.UID) && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// ours collects from node i's BIRD the way the agent does, in the test process, and maps it for classes.
func ours(l *birdLab, i int, classes []v3.NodeStatusClassType) status.Sections {
	c := &bird.Collector{V4Socket: l.Nodes[i].Socket4, V6Socket: l.Nodes[i].Socket6, Timeout: 10 * time.Second}
	snap := c.Collect(context.Background(), bird.Need{Status: true, Protocols: true, Routes: true})
	return status.Build(snap, classes, status.Options{})
}

// sectionsContent is the sections as canonical JSON with the dead peers folded.
func sectionsContent(a *v3.CalicoNodeAgentStatus, b *v3.CalicoNodeBGPStatus, r *v3.CalicoNodeBGPRouteStatus) string {
	st := v3.CalicoNodeStatusStatus{Agent: a, BGP: b, Routes: r}
	return content(st, true)
}

// lineDiff lists the lines only in a (-) and only in b (+), enough to see what differs.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	in := func(l []string) map[string]int {
		m := map[string]int{}
		for _, s := range l {
			m[s]++
		}
		return m
	}
	bm := in(bl)
	var out []string
	for _, s := range al {
		if bm[s] == 0 {
			out = append(out, "- "+s)
		} else {
			bm[s]--
		}
	}
	am := in(al)
	for _, s := range bl {
		if am[s] == 0 {
			out = append(out, "+ "+s)
		} else {
			am[s]--
		}
	}
	return strings.Join(out, "\n")
}

// alignJitter copies the agent's printed times into ours where they differ by at most a second: BIRD
// prints one event's time a second apart depending on when it is asked (see internal/agent's
// keepStableTimes), and the agent keeps the time it wrote first.
func alignJitter(agent v3.CalicoNodeStatusStatus, ours *status.Sections) {
	near := func(a, b string) bool {
		for _, layout := range []string{time.DateTime, time.TimeOnly} {
			ta, errA := time.Parse(layout, a)
			tb, errB := time.Parse(layout, b)
			if errA == nil && errB == nil {
				return ta.Sub(tb).Abs() <= time.Second
			}
		}
		return false
	}
	if agent.Agent != nil && ours.Agent != nil {
		for _, p := range [][2]*v3.BGPDaemonStatus{{agent.Agent.BIRDV4, ours.Agent.BIRDV4}, {agent.Agent.BIRDV6, ours.Agent.BIRDV6}} {
			if p[0] == nil || p[1] == nil {
				continue
			}
			if near(p[0].LastBootTime, p[1].LastBootTime) {
				p[1].LastBootTime = p[0].LastBootTime
			}
			if near(p[0].LastReconfigurationTime, p[1].LastReconfigurationTime) {
				p[1].LastReconfigurationTime = p[0].LastReconfigurationTime
			}
		}
	}
	if agent.BGP != nil && ours.BGP != nil {
		for _, ps := range [][2][]v3.CalicoNodePeer{{agent.BGP.PeersV4, ours.BGP.PeersV4}, {agent.BGP.PeersV6, ours.BGP.PeersV6}} {
			for i := range ps[1] {
				o := &ps[1][i]
				for _, a := range ps[0] {
					if a.PeerIP == o.PeerIP && a.Protocol == o.Protocol && a.State == o.State && near(a.Since, o.Since) {
						o.Since = a.Since
					}
				}
			}
		}
	}
}
