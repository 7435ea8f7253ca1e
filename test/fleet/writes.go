package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/agent"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
	"github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned"
)

// WriteMethod is how a status write is sent to the API server (`make bench-writes`).
type WriteMethod string

const (
	// MethodPut is a full PUT of the status subresource with the object's resourceVersion (what the agent
	// does: KubeStore.UpdateStatus).
	MethodPut WriteMethod = "put"
	// MethodMergePatch is a JSON merge patch of the status subresource holding only what changed, with
	// metadata.resourceVersion as the optimistic-concurrency precondition.
	MethodMergePatch WriteMethod = "merge-patch"
	// MethodApply is a server-side apply of the whole status by the agent's field manager (force, with
	// metadata.resourceVersion as the precondition).
	MethodApply WriteMethod = "apply"
)

// WriteMethods are the methods compared, the baseline (PUT) first.
var WriteMethods = []WriteMethod{MethodPut, MethodMergePatch, MethodApply}

// WriteShape is one object size of the writes bench: a status built from the captures with classes, and
// routes capped at MaxRoutes per family (the 1000-route captures for the large one).
type WriteShape struct {
	Name      string
	Classes   []v3.NodeStatusClassType
	Routes1k  bool
	MaxRoutes int
	// WritesDiv divides the cell's writes (large objects take long).
	WritesDiv int
}

// WriteShapes: ~2 KB (the Agent class only), ~5 KB (the managed object's classes, Agent+BGP: the
// captures' 13 peers), ~12 KB (the fleet's: all classes, the captures' 10 routes per family), ~100 KB
// (all classes, 300 of the 1000-route captures per family).
var WriteShapes = []WriteShape{
	{Name: "agent-only", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent}},
	{Name: "managed", Classes: v3.ManagedClasses()},
	{Name: "fleet", Classes: allClasses},
	{Name: "large", Classes: allClasses, Routes1k: true, MaxRoutes: 300, WritesDiv: 4},
}

var allClasses = []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}

// WritesOptions of one writes bench run.
type WritesOptions struct {
	// Watchers are the numbers of idle field-selected watches (spec.node=<another node>, as every other
	// agent of the cluster has) to measure with, in order: they are opened, never closed, between steps.
	Watchers []int
	// Writes per cell (shape, method, watchers, repeat); Repeats of every cell (methods rotate their order
	// per repeat so drift falls on each alike).
	Writes, Repeats int
	// Idle is the control plane's idle measurement at each watcher count.
	Idle     time.Duration
	Shapes   []WriteShape
	Captures string
	Log      *slog.Logger
}

// WriteResult is one cell's measurements over its repeats.
type WriteResult struct {
	Shape    string      `json:"shape"`
	Method   WriteMethod `json:"method"`
	Watchers int         `json:"watchers"`
	// ObjectBytes is the stored object's JSON size; RequestBytes the mean request body.
	ObjectBytes  int `json:"objectBytes"`
	RequestBytes int `json:"requestBytes"`
	// CPUms is kube-apiserver + etcd CPU per write above idle, per repeat (milliseconds).
	CPUms []float64 `json:"cpuMs"`
	// LatencyMs is the mean client-side write latency per repeat.
	LatencyMs []float64 `json:"latencyMs"`
	// IdleCores is the control plane's idle CPU at this watcher count.
	IdleCores float64 `json:"idleCores"`
}

// writeTarget is one object written by one method, and its two alternating sections (the captures'
// normal state and a peer down), so every write changes the status as a flap does.
type writeTarget struct {
	shape    WriteShape
	method   WriteMethod
	obj      *v3.CalicoNodeStatus
	sections [2]status.Sections
	n        int
}

// RunWrites measures the API server's (+ etcd's) CPU per status write by method, object size and number
// of idle watchers.
func RunWrites(ctx context.Context, o WritesOptions) (out []WriteResult, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if len(o.Shapes) == 0 {
		o.Shapes = WriteShapes
	}
	if o.Writes < 1 || o.Repeats < 1 {
		return nil, fmt.Errorf("writes bench: %d writes x %d repeats: both must be at least 1", o.Writes, o.Repeats)
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := env.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	pids, err := controlPlanePIDs()
	if err != nil {
		return nil, err
	}
	rc, err := restClient(env.Config)
	if err != nil {
		return nil, err
	}
	wctx, stopWatches := context.WithCancel(ctx)
	defer stopWatches()

	var targets []*writeTarget
	for _, sh := range o.Shapes {
		secs, err := shapeSections(ctx, o.Captures, sh)
		if err != nil {
			return nil, err
		}
		for _, m := range WriteMethods {
			t := &writeTarget{shape: sh, method: m, sections: secs}
			node := fmt.Sprintf("writes-%s-%s", sh.Name, m)
			t.obj = &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: node}, Spec: v3.CalicoNodeStatusSpec{
				Node: node, Classes: sh.Classes, UpdatePeriodSeconds: ptr.To(int32(10))}}
			if err := rc.Post().Resource("caliconodestatuses").Param("fieldManager", agent.FieldOwner).Body(t.obj).Do(ctx).Into(t.obj); err != nil {
				return nil, fmt.Errorf("create %s: %w", node, err)
			}
			// The object's own agent watches it: every write is one event delivered.
			if err := openWatches(wctx, env.Config, []string{node}); err != nil {
				return nil, err
			}
			// Warm-up writes: the first sets the status, the next ones its managed fields as they stay.
			for range 4 {
				if _, _, err := t.write(ctx, rc); err != nil {
					return nil, err
				}
			}
			targets = append(targets, t)
		}
	}

	open := 0
	for _, w := range o.Watchers {
		if w > open {
			names := make([]string, 0, w-open)
			for i := open; i < w; i++ {
				names = append(names, fmt.Sprintf("idle-%05d", i))
			}
			if err := openWatches(wctx, env.Config, names); err != nil {
				return nil, err
			}
			open = w
		}
		idle, err := cpuOver(ctx, pids, o.Idle)
		if err != nil {
			return nil, err
		}
		o.Log.Info("writes bench: watchers open", "watchers", open, "idle_cores", idle)
		cells := map[*writeTarget]*WriteResult{}
		for rep := range o.Repeats {
			for _, sh := range o.Shapes {
				var ts []*writeTarget
				for _, t := range targets {
					if t.shape.Name == sh.Name {
						ts = append(ts, t)
					}
				}
				// Rotate the methods' order per repeat.
				for k := range ts {
					t := ts[(k+rep)%len(ts)]
					res := cells[t]
					if res == nil {
						res = &WriteResult{Shape: sh.Name, Method: t.method, Watchers: open, IdleCores: idle}
						cells[t] = res
					}
					cpu, lat, reqBytes, err := t.measure(ctx, rc, pids, max(1, o.Writes/max(1, sh.WritesDiv)), idle)
					if err != nil {
						return nil, err
					}
					res.CPUms = append(res.CPUms, cpu)
					res.LatencyMs = append(res.LatencyMs, lat)
					res.RequestBytes = reqBytes
					if b, err := json.Marshal(t.obj); err == nil {
						res.ObjectBytes = len(b)
					}
					o.Log.Info("writes bench cell", "shape", sh.Name, "method", t.method, "watchers", open, "repeat", rep, "cpu_ms_per_write", cpu, "latency_ms", lat)
				}
			}
		}
		for _, t := range targets {
			out = append(out, *cells[t])
		}
	}
	return out, nil
}

// measure makes n writes back to back and returns the control plane's CPU per write above idle (ms),
// the mean latency (ms) and the mean request body size.
func (t *writeTarget) measure(ctx context.Context, rc rest.Interface, pids []int, n int, idleCores float64) (cpuMs, latMs float64, reqBytes int, err error) {
	c0, err := procstat.CPU(pids)
	if err != nil {
		return 0, 0, 0, err
	}
	t0 := time.Now()
	var lat time.Duration
	var body int
	for range n {
		l, b, err := t.write(ctx, rc)
		if err != nil {
			return 0, 0, 0, err
		}
		lat += l
		body += b
	}
	elapsed := time.Since(t0)
	c1, err := procstat.CPU(pids)
	if err != nil {
		return 0, 0, 0, err
	}
	busy := (c1 - c0).Seconds() - idleCores*elapsed.Seconds()
	return 1000 * busy / float64(n), float64(lat.Microseconds()) / 1000 / float64(n), body / n, nil
}

// write changes the status to the other alternating sections, as the agent would compute it, and writes
// it with the target's method.
func (t *writeTarget) write(ctx context.Context, rc rest.Interface) (time.Duration, int, error) {
	t.n++
	desired := status.Desired(t.obj, t.sections[t.n%2])
	// A second per write (lastUpdated has a resolution of seconds): every write changes the object, as
	// at least lastUpdated does when the agent writes.
	desired.LastUpdated = metav1.NewTime(t.obj.CreationTimestamp.Add(time.Duration(t.n) * time.Second).UTC())
	var body []byte
	var pt types.PatchType
	var err error
	switch t.method {
	case MethodPut:
		next := t.obj.DeepCopy()
		next.Status = desired
		// The whole object as the agent's PUT sends it (its managed fields included).
		next.APIVersion, next.Kind = v3.GroupVersion.String(), "CalicoNodeStatus"
		body, err = json.Marshal(next)
	case MethodMergePatch:
		pt = types.MergePatchType
		body, err = statusMergePatch(t.obj, desired)
	case MethodApply:
		pt = types.ApplyPatchType
		body, err = json.Marshal(map[string]any{
			"apiVersion": v3.GroupVersion.String(), "kind": "CalicoNodeStatus",
			"metadata": map[string]any{"name": t.obj.Name, "resourceVersion": t.obj.ResourceVersion},
			"status":   desired,
		})
	}
	if err != nil {
		return 0, 0, fmt.Errorf("encode %s of %s: %w", t.method, t.obj.Name, err)
	}
	start := time.Now()
	var req *rest.Request
	if pt == "" {
		req = rc.Put()
	} else {
		req = rc.Patch(pt)
	}
	req = req.Resource("caliconodestatuses").Name(t.obj.Name).SubResource("status").Param("fieldManager", agent.FieldOwner)
	if t.method == MethodApply {
		req = req.Param("force", "true")
	}
	stored := &v3.CalicoNodeStatus{}
	if err := req.Body(body).Do(ctx).Into(stored); err != nil {
		return 0, 0, fmt.Errorf("%s status of %s: %w", t.method, t.obj.Name, err)
	}
	took := time.Since(start)
	if stored.ResourceVersion == t.obj.ResourceVersion {
		return 0, 0, fmt.Errorf("%s status of %s: nothing written (resourceVersion %s unchanged)", t.method, t.obj.Name, stored.ResourceVersion)
	}
	// Every method must have stored exactly the desired status, or the comparison is not fair.
	if !status.SameContent(stored.Status, desired) || !stored.Status.LastUpdated.Equal(&desired.LastUpdated) {
		return 0, 0, fmt.Errorf("%s status of %s: the stored status is not the one written", t.method, t.obj.Name)
	}
	t.obj = stored
	return took, len(body), nil
}

// shapeSections collects the captures (stock BIRD 1.6.8) through the agent's collector from a fake BIRD,
// in the normal state and with a peer down, and builds the shape's sections from both.
func shapeSections(ctx context.Context, captures string, sh WriteShape) ([2]status.Sections, error) {
	var out [2]status.Sections
	dir := filepath.Join(captures, Flavours[0])
	rep, err := loadReplies(dir)
	if err != nil {
		return out, err
	}
	if sh.Routes1k {
		for _, fam := range []string{"v4-", "v6-"} {
			if rep.routes[fam], err = os.ReadFile(filepath.Join(dir, fam+"show-route-1000.txt")); err != nil {
				return out, fmt.Errorf("read capture: %w", err)
			}
		}
	}
	sock, err := os.MkdirTemp("", "cns-writes-")
	if err != nil {
		return out, fmt.Errorf("socket directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(sock) }()
	st := &nodeState{}
	fb, err := startFakeBird(sock, rep, st)
	if err != nil {
		return out, err
	}
	defer fb.stop()
	maxRoutes := sh.MaxRoutes
	if maxRoutes == 0 {
		maxRoutes = v3.DefaultMaxRoutesPerFamily
	}
	c := &bird.Collector{V4Socket: fb.v4, V6Socket: fb.v6, MaxRoutes: maxRoutes, Restrict: true}
	for i, down := range []bool{false, true} {
		st.peerDown.Store(down)
		snap := c.Collect(ctx, needOf(sh.Classes))
		out[i] = status.Build(snap, sh.Classes, status.Options{MaxRoutesPerFamily: maxRoutes})
		if out[i].Agent == nil {
			return out, errors.New("writes bench: the captures gave no agent section")
		}
	}
	return out, nil
}

func needOf(classes []v3.NodeStatusClassType) bird.Need {
	routes := slices.Contains(classes, v3.NodeStatusClassTypeRoutes)
	return bird.Need{Status: slices.Contains(classes, v3.NodeStatusClassTypeAgent),
		Protocols: routes || slices.Contains(classes, v3.NodeStatusClassTypeBGP), Routes: routes}
}

func restClient(cfg *rest.Config) (rest.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0 // no client-side rate limit: the bench paces itself
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	c.Dial = d.DialContext // a connection of its own
	cs, err := versioned.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("client of projectcalico.org/v3: %w", err)
	}
	return cs.ProjectcalicoV3().RESTClient(), nil
}

// openWatches opens one field-selected watch (spec.node=<node>) per node, as each node's agent does,
// 100 per connection, and drains them until ctx ends. It returns when every watch was answered.
func openWatches(ctx context.Context, cfg *rest.Config, nodes []string) error {
	var rc rest.Interface
	for i, node := range nodes {
		if i%100 == 0 {
			var err error
			if rc, err = restClient(cfg); err != nil {
				return err
			}
		}
		opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.node", node).String(), AllowWatchBookmarks: true}
		w, err := versioned.New(rc).ProjectcalicoV3().CalicoNodeStatuses().Watch(ctx, opts)
		if err != nil {
			return fmt.Errorf("watch caliconodestatuses of %s: %w", node, err)
		}
		go drain(ctx, w)
	}
	return nil
}

func drain(ctx context.Context, w watch.Interface) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-w.ResultChan():
			if !ok {
				return
			}
		}
	}
}
