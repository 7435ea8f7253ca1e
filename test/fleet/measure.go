package fleet

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// recorder sees every request of every hollow agent (a wrapper around its transport): status PUT
// latencies, HTTP 429s, and when each agent's watch was last established (a watch GET answered 200).
type recorder struct {
	measuring atomic.Bool
	mu        sync.Mutex
	puts      []time.Duration
	tooMany   atomic.Int64 // every 429, any time
	tooManyIn atomic.Int64 // 429s while measuring (steady state)
	requests  atomic.Int64
	// flowSchemas counts the APF flow schemas (X-Kubernetes-PF-FlowSchema-UID) that classified the
	// agents' requests.
	flowSchemas sync.Map // uid -> *atomic.Int64
	// watchUp[i] is when agent i's latest watch request was answered 200.
	watchUp []atomic.Int64
}

func newRecorder(n int) *recorder { return &recorder{watchUp: make([]atomic.Int64, n)} }

type recordingTransport struct {
	next  http.RoundTripper
	rec   *recorder
	agent int
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	t.rec.requests.Add(1)
	if err != nil {
		return resp, err
	}
	if uid := resp.Header.Get("X-Kubernetes-PF-FlowSchema-UID"); uid != "" {
		c, _ := t.rec.flowSchemas.LoadOrStore(uid, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		t.rec.tooMany.Add(1)
		if t.rec.measuring.Load() {
			t.rec.tooManyIn.Add(1)
		}
	}
	switch {
	case req.Method == http.MethodPut && strings.HasSuffix(req.URL.Path, "/status"):
		if t.rec.measuring.Load() && resp.StatusCode < 300 {
			d := time.Since(start)
			t.rec.mu.Lock()
			t.rec.puts = append(t.rec.puts, d)
			t.rec.mu.Unlock()
		}
	case req.Method == http.MethodGet && req.URL.Query().Get("watch") == "true" && resp.StatusCode == http.StatusOK:
		t.rec.watchUp[t.agent].Store(time.Now().UnixNano())
	}
	return resp, err
}

// allWatchingSince reports whether every agent's watch was established at or after t.
func (r *recorder) allWatchingSince(t time.Time) (bool, int) {
	n := 0
	for i := range r.watchUp {
		if r.watchUp[i].Load() >= t.UnixNano() {
			n++
		}
	}
	return n == len(r.watchUp), n
}

func (r *recorder) resetPuts() {
	r.mu.Lock()
	r.puts = nil
	r.mu.Unlock()
}

// putQuantiles returns p50 and p99 of the status PUTs recorded while measuring, and how many.
func (r *recorder) putQuantiles() (p50, p99 time.Duration, n int) {
	r.mu.Lock()
	d := slices.Clone(r.puts)
	r.mu.Unlock()
	if len(d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return q(0.50), q(0.99), len(d)
}

// writeCounter counts status writes of all objects: every MODIFIED event with a new resourceVersion on a
// watch of every CalicoNodeStatus (one admin watch, not part of the fleet).
type writeCounter struct {
	n     atomic.Int64
	bytes atomic.Int64 // sum of the JSON size of the written objects (bytes per status)
}

func startWriteCounter(ctx context.Context, cl client.WithWatch) (*writeCounter, error) {
	w := &writeCounter{}
	var list v3.CalicoNodeStatusList
	if err := cl.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list CalicoNodeStatus for the write counter: %w", err)
	}
	from := list.ResourceVersion
	go func() {
		for ctx.Err() == nil {
			wi, err := cl.Watch(ctx, &v3.CalicoNodeStatusList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: from, AllowWatchBookmarks: true}})
			if err != nil {
				// The API server is restarting (or ctx ended): try again shortly.
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
				continue
			}
			for ev := range wi.ResultChan() {
				o, ok := ev.Object.(*v3.CalicoNodeStatus)
				if !ok {
					break // an error event (e.g. resourceVersion too old): watch again from the last seen
				}
				from = o.ResourceVersion
				if ev.Type == watch.Modified {
					w.n.Add(1)
					if b, err := jsonSize(o); err == nil {
						w.bytes.Add(int64(b))
					}
				}
			}
			wi.Stop()
		}
	}()
	return w, nil
}

// flowSchemaCounts returns how many of the agents' requests each APF flow schema (by UID) classified.
func (r *recorder) flowSchemaCounts() map[string]int64 {
	out := map[string]int64{}
	r.flowSchemas.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}
