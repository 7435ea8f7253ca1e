package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// writeCounter counts status writes per object by watching every CalicoNodeStatus and counting
// resourceVersion changes: each write, whoever made it and however, moves it exactly once.
type writeCounter struct {
	mu      sync.Mutex
	rv      map[string]string
	last    map[string]*v3.CalicoNodeStatus
	writes  map[string]int
	records []writeRecord
	err     error
}

// writeRecord is one observed write: which object, when it was seen, what it changed besides lastUpdated.
type writeRecord struct {
	name  string
	at    time.Time
	paths []string
}

// startWriteCounter lists the objects (their current resourceVersion is the baseline) and watches from
// there until ctx ends. A watch the server closes is resumed from the last version seen.
func startWriteCounter(ctx context.Context, cl client.WithWatch) (*writeCounter, error) {
	w := &writeCounter{rv: map[string]string{}, last: map[string]*v3.CalicoNodeStatus{}, writes: map[string]int{}}
	var list v3.CalicoNodeStatusList
	if err := cl.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list CalicoNodeStatus for the write counter: %w", err)
	}
	for i := range list.Items {
		w.rv[list.Items[i].Name] = list.Items[i].ResourceVersion
		w.last[list.Items[i].Name] = list.Items[i].DeepCopy()
	}
	from := list.ResourceVersion
	wi, err := cl.Watch(ctx, &v3.CalicoNodeStatusList{}, &client.ListOptions{Raw: watchOpts(from)})
	if err != nil {
		return nil, fmt.Errorf("watch CalicoNodeStatus from %s: %w", from, err)
	}
	go w.loop(ctx, cl, wi, from)
	return w, nil
}

func (w *writeCounter) loop(ctx context.Context, cl client.WithWatch, wi watch.Interface, from string) {
	for {
		for ev := range wi.ResultChan() {
			o, ok := ev.Object.(*v3.CalicoNodeStatus)
			if !ok {
				if ev.Type == watch.Error {
					w.fail(fmt.Errorf("watch error event: %v", ev.Object))
					return
				}
				continue
			}
			from = o.ResourceVersion
			if ev.Type == watch.Bookmark {
				continue
			}
			w.mu.Lock()
			if ev.Type == watch.Modified && w.rv[o.Name] != o.ResourceVersion {
				w.writes[o.Name]++
				rec := writeRecord{name: o.Name, at: time.Now()}
				if prev := w.last[o.Name]; prev != nil {
					var err error
					if rec.paths, err = statusDiff(prev.Status, o.Status); err != nil {
						w.mu.Unlock()
						w.fail(err)
						return
					}
				}
				w.records = append(w.records, rec)
			}
			w.rv[o.Name] = o.ResourceVersion
			w.last[o.Name] = o
			w.mu.Unlock()
		}
		wi.Stop()
		if ctx.Err() != nil {
			return
		}
		var err error
		if wi, err = cl.Watch(ctx, &v3.CalicoNodeStatusList{}, &client.ListOptions{Raw: watchOpts(from)}); err != nil {
			if ctx.Err() == nil {
				w.fail(fmt.Errorf("resume watch of CalicoNodeStatus from %s: %w", from, err))
			}
			return
		}
	}
}

// changes counts, for the writes of name seen in (from, to], each changed path; writes that changed
// nothing but lastUpdated count under "(lastUpdated only)".
func (w *writeCounter) changes(name string, from, to time.Time) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for _, r := range w.records {
		if r.name != name || !r.at.After(from) || r.at.After(to) {
			continue
		}
		if len(r.paths) == 0 {
			out["(lastUpdated only)"]++
		}
		for _, p := range r.paths {
			out[p]++
		}
	}
	return out
}

func watchOpts(from string) *metav1.ListOptions {
	return &metav1.ListOptions{ResourceVersion: from, AllowWatchBookmarks: true}
}

func (w *writeCounter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// count returns the writes seen so far for name, or the error that stopped counting.
func (w *writeCounter) count(name string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes[name], w.err
}

// fetch GETs a Prometheus text endpoint: the API server's /metrics (through the rest config's client) or
// the agent's plain HTTP one.
func fetch(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %d: %.512s", url, resp.StatusCode, b)
	}
	return b, nil
}

// sumSamples sums the samples of metric whose labels contain every wanted label; wanted values separated by
// | are alternatives.
func sumSamples(r io.Reader, metric string, want map[string]string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var sum float64
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		rest := line[len(metric):]
		var labels string
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.Index(rest, "}")
			if end < 0 {
				return 0, fmt.Errorf("metrics line %d: no closing brace: %q", n, line)
			}
			labels, rest = rest[1:end], rest[end+1:]
		case strings.HasPrefix(rest, " "):
		default:
			continue // another metric with this prefix
		}
		if !labelsMatch(labels, want) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, fmt.Errorf("metrics line %d: no value: %q", n, line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %d: value %q: %w", n, f[0], err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	return sum, nil
}

func labelsMatch(labels string, want map[string]string) bool {
	for k, alts := range want {
		ok := false
		for _, v := range strings.Split(alts, "|") {
			if strings.Contains(labels, k+`="`+v+`"`) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// apiserverStatusWrites is the API server's own count of writes to caliconodestatuses/status (all
// objects, all clients): a cross-check of the watch count.
func apiserverStatusWrites(ctx context.Context, cfg *rest.Config) (float64, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return 0, fmt.Errorf("HTTP client for the API server: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, err := fetch(ctx, hc, strings.TrimSuffix(cfg.Host, "/")+"/metrics")
	if err != nil {
		return 0, err
	}
	return sumSamples(bytes.NewReader(body), "apiserver_request_total", map[string]string{"resource": "caliconodestatuses", "subresource": "status", "verb": "PUT|PATCH|APPLY", "code": "200|201"})
}
