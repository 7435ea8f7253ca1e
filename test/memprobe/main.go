// Command memprobe measures, in a process of its own, the memory one collection of a node's BIRD costs:
// the peak resident set (VmHWM) and the live heap. It is run by BenchmarkRealBIRDMemory
// (test/membench) against real BIRD daemons; see docs/benchmarks.md, "Memory".
//
// Modes:
//
//	read     the baseline: connect, send `show route`, read the reply to its final line, keep nothing
//	collect  what the agent does: bird.Collector with MaxRoutes (routes streamed into the capped
//	         selection) for status, protocols and routes of both daemons, then status.Build
//	keepall  the same with every route kept in the snapshot (the agent before the selection)
//
// It prints one JSON object: the mode, the peak RSS, the peak and final live heap, the routes counted and
// listed, whether the status says truncated, and the time taken.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
)

type result struct {
	Mode string `json:"mode"`
	// PeakRSS is VmHWM at the end; IdleRSS VmRSS before the work started.
	PeakRSS int64 `json:"peakRSS"`
	IdleRSS int64 `json:"idleRSS"`
	// PeakHeap is the largest live-and-not-yet-swept heap sampled every millisecond during the work
	// (runtime/metrics /memory/classes/heap/objects:bytes); LiveHeap the heap after a GC at the end, the
	// snapshot and the status still held.
	PeakHeap   int64   `json:"peakHeap"`
	LiveHeap   int64   `json:"liveHeap"`
	ReplyBytes int64   `json:"replyBytes,omitempty"`
	TotalV4    int     `json:"totalV4,omitempty"`
	TotalV6    int     `json:"totalV6,omitempty"`
	ListedV4   int     `json:"listedV4,omitempty"`
	ListedV6   int     `json:"listedV6,omitempty"`
	Kept       int     `json:"keptInSnapshot,omitempty"`
	Truncated  bool    `json:"truncated,omitempty"`
	Errors     string  `json:"errors,omitempty"`
	Seconds    float64 `json:"seconds"`
}

func main() {
	mode := flag.String("mode", "collect", "read, collect or keepall")
	sock4 := flag.String("bird-socket", "", "bird.ctl")
	sock6 := flag.String("bird6-socket", "", "bird6.ctl (BIRD 1.6)")
	maxRoutes := flag.Int("max-routes", v3.DefaultMaxRoutesPerFamily, "routes per family the status lists (the agent's --max-routes-per-family)")
	timeout := flag.Duration("timeout", 5*time.Minute, "deadline of the collection")
	flag.Parse()

	idle, _ := procstat.ReadMemory(os.Getpid()) // zeros if /proc cannot be read: the JSON shows it
	res := result{Mode: *mode, IdleRSS: int64(idle.RSS)}
	stop := sampleHeap(&res.PeakHeap)
	start := time.Now()
	var keep any
	switch *mode {
	case "read":
		n, err := bareRead(*sock4, *timeout)
		res.ReplyBytes = n
		if err != nil {
			res.Errors = err.Error()
		}
	case "collect", "keepall":
		c := &bird.Collector{V4Socket: *sock4, V6Socket: *sock6, Timeout: *timeout, MaxReplyBytes: 1 << 30, MaxRouteReplyBytes: 1 << 30}
		if *mode == "collect" {
			c.MaxRoutes = *maxRoutes
		}
		snap := c.Collect(context.Background(), bird.Need{Status: true, Protocols: true, Routes: true})
		classes := []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}
		st := status.Build(snap, classes, status.Options{MaxRoutesPerFamily: *maxRoutes})
		res.TotalV4, res.TotalV6 = st.Routes.TotalV4, st.Routes.TotalV6
		res.ListedV4, res.ListedV6 = len(st.Routes.RoutesV4), len(st.Routes.RoutesV6)
		res.Kept = len(snap.V4.Routes) + len(snap.V6.Routes)
		res.Truncated = st.Routes.Truncated
		var errs []string
		for _, err := range []error{snap.V4.StatusErr, snap.V4.ProtocolsErr, snap.V4.RoutesErr, snap.V6.StatusErr, snap.V6.ProtocolsErr, snap.V6.RoutesErr} {
			if err != nil {
				errs = append(errs, err.Error())
			}
		}
		res.Errors = strings.Join(errs, "; ")
		keep = []any{snap, st}
	default:
		fmt.Fprintf(os.Stderr, "memprobe: unknown mode %q\n", *mode)
		os.Exit(2)
	}
	res.Seconds = time.Since(start).Seconds()
	stop()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.LiveHeap = int64(ms.HeapAlloc)
	runtime.KeepAlive(keep)
	end, _ := procstat.ReadMemory(os.Getpid())
	res.PeakRSS = int64(end.HWM)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		os.Exit(1)
	}
}

// bareRead reads a `show route` reply without looking at it, but for its final "0000" line.
func bareRead(path string, timeout time.Duration) (int64, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	br := bufio.NewReaderSize(c, 64<<10)
	if _, err := br.ReadSlice('\n'); err != nil { // greeting
		return 0, err
	}
	if _, err := io.WriteString(c, bird.CmdRoutes+"\n"); err != nil {
		return 0, err
	}
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		n += int64(len(line))
		if err != nil && err != bufio.ErrBufferFull {
			return n, err
		}
		if bytes.HasPrefix(line, []byte("0000")) {
			return n, nil
		}
	}
}

// sampleHeap records the largest heap-objects size seen until the returned function is called.
func sampleHeap(peak *int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := int64(s[0].Value.Uint64()); v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
