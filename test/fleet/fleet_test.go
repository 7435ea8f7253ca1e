package fleet

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

// TestQuickFleet is the fleet benchmark's quick mode (5 hollow nodes, pre-written, 20 s window, churn x60) as a smoke
// test: the measurements must be sane, not fast.
func TestQuickFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet smoke run starts a control plane")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := testenv.BinDir(root)
	prereq.Require(t, err == nil, "control-plane binaries", "make controlplane")
	_, err = os.Stat(filepath.Join(bin, "kube-apiserver"))
	prereq.Require(t, err == nil, "kube-apiserver in "+bin, "make controlplane")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const n = 5
	r, err := Run(ctx, Options{Nodes: n, Pattern: Ours, Period: 10 * time.Second, Window: 20 * time.Second, Idle: 3 * time.Second,
		ChurnScale: 60, Retrying: 1, Restart: true, PreWritten: true, Captures: filepath.Join(root, "internal", "bird", "testdata", "captures")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	// Objects created with the status their agents would write: the agents' first collections (all in
	// the warm-up, before any churn) must find nothing to change.
	if r.WarmupWrites != 0 {
		t.Errorf("%d status writes in the warm-up of %d pre-written objects, want 0", r.WarmupWrites, n)
	}
	if r.Flaps+r.RouteChanges == 0 {
		t.Fatalf("no churn was scripted in the window: %+v", r)
	}
	if r.WritesPerS <= 0 || r.Puts == 0 {
		t.Errorf("churn made no status writes (writes/s %v, PUTs %d)", r.WritesPerS, r.Puts)
	}
	if r.PutP50Ms <= 0 || r.PutP99Ms < r.PutP50Ms {
		t.Errorf("PUT latency quantiles not sane: p50 %v ms, p99 %v ms", r.PutP50Ms, r.PutP99Ms)
	}
	if r.TooManySteady != 0 {
		t.Errorf("%d HTTP 429s in steady state", r.TooManySteady)
	}
	if r.StartWatchingS <= 0 || r.StartWatchingS > 30 {
		t.Errorf("all %d agents watching after %v s, want (0, 30]", n, r.StartWatchingS)
	}
	if r.RestartWatchingS <= 0 {
		t.Errorf("agents' return after the API server restart not measured: %v", r.RestartWatchingS)
	}
	// config/apf's FlowSchema must match the agents' service account: APF names the schema that
	// classified each request in its response headers (counted before the restart; a request that ended
	// in a transport error has no headers, hence 90 %: a schema that did not match would classify none).
	if r.InAgentFlowSchema == 0 || r.InAgentFlowSchema*10 < r.AgentRequests*9 {
		t.Errorf("only %d of the agents' %d requests were classified by config/apf's FlowSchema", r.InAgentFlowSchema, r.AgentRequests)
	}
	if r.BirdCommands == 0 || r.APIServerRSS == 0 || r.BytesPerStatus <= 0 {
		t.Errorf("measurements missing: %+v", r)
	}
	// With 5 agents writing only on change the API server is nearly idle: more than a core above idle
	// would mean the measurement (or the agent) is broken.
	if r.AboveIdleCores > 1 {
		t.Errorf("API server + etcd %.2f cores above idle with %d agents", r.AboveIdleCores, n)
	}
}
