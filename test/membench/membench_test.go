package membench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testbird"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
)

// daemonSetLimit is the agent container's memory limit in config/agent/daemonset.yaml.
const daemonSetLimit = 64 << 20

// probeResult is test/memprobe's report.
type probeResult struct {
	Mode                                 string
	PeakRSS, IdleRSS, PeakHeap, LiveHeap int64
	ReplyBytes                           int64
	TotalV4, TotalV6, ListedV4, ListedV6 int
	Kept                                 int `json:"keptInSnapshot"`
	Truncated                            bool
	Errors                               string
	Seconds                              float64
}

// BenchmarkRealBIRDMemory measures the memory of reading a node's BIRD with 10k, 100k and 1M routes (a
// full Internet table), against real BIRD 1.6 daemons (bird.ctl with n routes, bird6.ctl with n/4), as
// root. Each measurement is a process of its own (test/memprobe), so its peak RSS is the collection's and
// nothing else's, under the agent's GOMEMLIMIT for the DaemonSet's 64 MiB (85 %):
//
//   - read: the baseline of the same run, the bare socket read of `show route` (nothing kept);
//   - collect: what the agent does: status, protocols and routes of both daemons, the routes streamed
//     into the capped selection, then the status mapped;
//   - keepall: the same keeping every route (the agent before the selection; up to 100k routes).
//
// With a control plane (KUBEBUILDER_ASSETS, `make controlplane`) it also runs the agent binary itself
// (--memory-limit 64Mi, as the DaemonSet's cgroup would give it) against the same BIRD and an API server,
// waits for a status showing the totals and truncated, then for a second collection, and reads the
// agent's peak RSS. Run it with:
//
//	KUBEBUILDER_ASSETS=$(hack/controlplane/build.sh) flock /tmp/cns-lab.lock \
//	  go test -run '^$' -bench RealBIRDMemory -benchtime 1x -timeout 60m ./test/membench/
//
// CNS_MEMBENCH_ROUTES=10000,100000 chooses the sizes, CNS_MEMBENCH_BIRD=2 runs one BIRD 2 daemon
// serving both families instead. Results: docs/benchmarks.md, "Memory".
func BenchmarkRealBIRDMemory(b *testing.B) {
	prereq.Root(b)
	sizes := []int{10_000, 100_000, 1_000_000}
	if s := os.Getenv("CNS_MEMBENCH_ROUTES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				b.Fatalf("CNS_MEMBENCH_ROUTES: %v", err)
			}
			sizes = append(sizes, n)
		}
	}
	major := 1
	if os.Getenv("CNS_MEMBENCH_BIRD") == "2" {
		major = 2
	}
	dir := b.TempDir()
	probe := goBuild(b, dir, "../memprobe")
	var env *testenv.Env
	var agent string
	if os.Getenv("KUBEBUILDER_ASSETS") != "" || prereq.InCI() {
		var err error
		if env, err = testenv.Start(testenv.Options{}); err != nil {
			b.Fatalf("control plane: %v", err)
		}
		b.Cleanup(func() { _ = env.Stop() })
		agent = goBuild(b, dir, "../../cmd/calico-node-status-agent")
	}

	for _, n := range sizes {
		t0 := time.Now()
		rb := testbird.Start(b, major, n)
		b.Logf("%d routes: BIRD %d up in %v", n, major, time.Since(t0).Round(time.Second))
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			for range b.N {
				read := runProbe(b, probe, rb, "read")
				col := runProbe(b, probe, rb, "collect")
				if col.Errors != "" || col.TotalV4 < n || !col.Truncated || col.ListedV4 != 1000 || col.ListedV6 != 1000 {
					b.Fatalf("collect: %+v: want every route counted, 1000 per family listed, truncated", col)
				}
				mib := func(v int64) float64 { return float64(v) / (1 << 20) }
				b.ReportMetric(mib(col.PeakRSS), "peak-RSS-MiB")
				b.ReportMetric(mib(col.PeakHeap), "peak-heap-MiB")
				b.ReportMetric(mib(col.LiveHeap), "live-heap-MiB")
				b.ReportMetric(float64(col.PeakRSS)/float64(read.PeakRSS), "RSS-x-of-read")
				b.ReportMetric(float64(col.PeakRSS)/daemonSetLimit, "RSS-of-limit")
				line := fmt.Sprintf("routes=%d (v4 total %d, v6 %d; reply %.1f MiB): read peak RSS %.1f MiB | collect peak RSS %.1f MiB (%.2fx read), peak heap %.1f, live heap %.2f MiB, kept %d routes, %.1f s",
					n, col.TotalV4, col.TotalV6, mib(read.ReplyBytes), mib(read.PeakRSS), mib(col.PeakRSS), float64(col.PeakRSS)/float64(read.PeakRSS), mib(col.PeakHeap), mib(col.LiveHeap), col.Kept, col.Seconds)
				if n <= 100_000 {
					all := runProbe(b, probe, rb, "keepall")
					line += fmt.Sprintf(" | keepall peak RSS %.1f MiB (%.2fx read), peak heap %.1f, live heap %.1f MiB",
						mib(all.PeakRSS), float64(all.PeakRSS)/float64(read.PeakRSS), mib(all.PeakHeap), mib(all.LiveHeap))
				}
				if env != nil {
					peak, rss, st := runAgent(b, agent, env, rb, n)
					b.ReportMetric(mib(peak), "agent-peak-RSS-MiB")
					line += fmt.Sprintf(" | agent peak RSS %.1f MiB (%.0f %% of 64 MiB), RSS after 2 collections %.1f MiB; status totalV4 %d totalV6 %d truncated %v, %d+%d routes listed",
						mib(peak), 100*float64(peak)/daemonSetLimit, mib(rss), st.TotalV4, st.TotalV6, st.Truncated, len(st.RoutesV4), len(st.RoutesV6))
				}
				b.Log(line)
			}
		})
		rb.Cleanup()
	}
}

func goBuild(b *testing.B, dir, pkg string) string {
	b.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	if o, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, o)
	}
	return out
}

func runProbe(b *testing.B, probe string, rb *testbird.Daemons, mode string) probeResult {
	b.Helper()
	cmd := exec.Command(probe, "--mode", mode, "--bird-socket", rb.Sock4, "--bird6-socket", rb.Sock6)
	// The agent's GOMEMLIMIT in the DaemonSet's 64 MiB.
	cmd.Env = append(os.Environ(), fmt.Sprintf("GOMEMLIMIT=%d", daemonSetLimit*85/100))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("memprobe %s: %v\n%s", mode, err, stderr.String())
	}
	var r probeResult
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("memprobe %s: %v: %s", mode, err, out)
	}
	if r.Errors != "" && mode != "keepall" {
		b.Fatalf("memprobe %s: %s", mode, r.Errors)
	}
	return r
}

// runAgent runs the agent binary for one CalicoNodeStatus on rb until it has written a status with the
// totals and collected a second time, and returns its peak and current RSS and the routes status.
func runAgent(b *testing.B, bin string, env *testenv.Env, rb *testbird.Daemons, n int) (peak, rss int64, st v3.CalicoNodeBGPRouteStatus) {
	b.Helper()
	node := fmt.Sprintf("membench-%d", n)
	metricsAddr := testenv.FreeAddr(b)
	cmd := exec.Command(bin, "--node-name", node, "--kubeconfig", env.Kubeconfig, "--bird-socket", rb.Sock4, "--bird6-socket", rb.Sock6,
		"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", "0", "--memory-limit", "64Mi", "--bird-timeout", "5m")
	var logs testenv.SyncBuffer // written by the agent while wait may read it
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	ctx := context.Background()
	period := int32(5)
	o := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: node},
		Spec: v3.CalicoNodeStatusSpec{Node: node, UpdatePeriodSeconds: &period,
			Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}}}
	if err := env.Client.Create(ctx, o); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(ctx, o) }()

	deadline := time.Now().Add(10 * time.Minute)
	wait := func(what string, cond func() bool) {
		for !cond() {
			if cmd.ProcessState != nil || time.Now().After(deadline) {
				b.Fatalf("agent: no %s within the deadline\n%s", what, logs.String())
			}
			time.Sleep(200 * time.Millisecond) // polling a condition with a deadline
		}
	}
	wait("status with the totals", func() bool {
		var got v3.CalicoNodeStatus
		if err := env.Client.Get(ctx, types.NamespacedName{Name: node}, &got); err != nil || got.Status.Routes == nil {
			return false
		}
		st = *got.Status.Routes
		return st.TotalV4 >= n
	})
	wait("second collection", func() bool { return collections(metricsAddr) >= 2 })
	if !st.Truncated {
		b.Fatalf("status routes %+v: want truncated", st)
	}
	mem, err := procstat.ReadMemory(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	return int64(mem.HWM), int64(mem.RSS), st
}

// collections reads the agent's calico_node_status_collection_duration_seconds_count.
func collections(addr string) int {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "calico_node_status_collection_duration_seconds_count "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}
