package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

// TestQuickBench runs the quick mode end to end: real control plane, real 11-node BIRD 1.6 lab, both
// processes. It checks the report's shape and the claims that must hold in any run: every write of our
// agent carried a change (the baseline writes every tick; ours writes fewer times unless BIRD itself
// changed every period, as the lab's never-connecting peer can do between Connect and Active in a short
// window), and ours asks BIRD fewer commands over fewer connections.
func TestQuickBench(t *testing.T) {
	lab.Prereqs(t)
	bin, err := testenv.BinDir(mustRoot(t))
	prereq.Require(t, err == nil, "control-plane binaries", "make controlplane")
	t.Setenv("KUBEBUILDER_ASSETS", bin)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	rep, err := run(ctx, config{Periods: 3, Period: 2 * time.Second, Nodes: 11, Bird: 1, LabName: "cnsbtest",
		OriginalWrites: "always", Progress: &progress})
	if err != nil {
		t.Fatalf("bench run: %v\nprogress:\n%s", err, progress.String())
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Logf("report:\n%s", out.String())

	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"header has both columns and the ratio", strings.Contains(out.String(), "metric") && strings.Contains(out.String(), "ours") &&
			strings.Contains(out.String(), "original-style") && strings.Contains(out.String(), "ratio (ours/original)")},
		{"every target has a verdict", strings.Count(out.String(), "target met")+strings.Count(out.String(), "target missed") == len(rep.verdicts())},
		{"node1 has 10 mesh peers per family plus the lab's extra peers", rep.PeersV4 >= 10 && rep.PeersV6 >= 10},
		{"the window lasted the periods", rep.Window >= time.Duration(rep.Periods)*rep.Period},
		{"the baseline wrote at least once per period but one (ticker phase)", rep.Original.Writes >= rep.Periods-1},
		{"every write of ours carried a change (or an allowed heartbeat)", rep.unexplainedWrites() <= 0},
		{"ours wrote at most once per collection", rep.Ours.Writes <= rep.Periods+1},
		{"ours sent fewer BIRD commands than the baseline", rep.Ours.BirdCommands < rep.Original.BirdCommands},
		{"ours opened fewer BIRD connections than the baseline", rep.Ours.BirdConns < rep.Original.BirdConns},
		{"the API server counted at least the writes the watch saw", rep.APIServerWrites >= float64(rep.Ours.Writes+rep.Original.Writes)},
		{"RSS was read for both", rep.Ours.PeakRSSBytes > 0 && rep.Original.PeakRSSBytes > 0},
	} {
		if !c.ok {
			t.Errorf("%s: not so; report:\n%s", c.name, out.String())
		}
	}
}

func mustRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSumSamples(t *testing.T) {
	const text = `# HELP apiserver_request_total x
apiserver_request_total{code="200",resource="caliconodestatuses",subresource="status",verb="PUT"} 12
apiserver_request_total{code="200",resource="caliconodestatuses",subresource="status",verb="PATCH"} 3
apiserver_request_total{code="409",resource="caliconodestatuses",subresource="status",verb="PATCH"} 1
apiserver_request_total{code="200",resource="caliconodestatuses",subresource="",verb="GET"} 40
apiserver_request_total_other{code="200"} 99
calico_node_status_collection_duration_seconds_count 7
`
	for _, c := range []struct {
		name, metric string
		want         map[string]string
		sum          float64
	}{
		{"alternatives and code", "apiserver_request_total", map[string]string{"subresource": "status", "verb": "PUT|PATCH", "code": "200"}, 15},
		{"one verb", "apiserver_request_total", map[string]string{"verb": "PATCH"}, 4},
		{"no labels wanted", "apiserver_request_total", nil, 56},
		{"metric without labels", "calico_node_status_collection_duration_seconds_count", nil, 7},
		{"nothing matches", "apiserver_request_total", map[string]string{"verb": "DELETE"}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := sumSamples(strings.NewReader(text), c.metric, c.want)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.sum {
				t.Errorf("sum = %v, want %v", got, c.sum)
			}
		})
	}
}

func TestUnexplainedWrites(t *testing.T) {
	for _, c := range []struct {
		name                        string
		window                      time.Duration
		writes, changed, heartbeats int
		want                        int
	}{
		{"nothing written", 2 * time.Minute, 0, 0, 0, 0},
		{"changes only", 2 * time.Minute, 3, 3, 0, 0},
		{"one heartbeat allowed in 2 minutes", 2 * time.Minute, 1, 0, 1, 0},
		{"two heartbeats in 2 minutes: one too many", 2 * time.Minute, 2, 0, 2, 1},
		{"a write the agent does not account for", 2 * time.Minute, 2, 1, 0, 1},
		{"three heartbeats in 11 minutes", 11 * time.Minute, 3, 0, 3, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &report{Window: c.window, Period: 10 * time.Second, Ours: side{Writes: c.writes},
				OursWritesChange: float64(c.changed), OursWritesBeat: float64(c.heartbeats)}
			if got := r.unexplainedWrites(); got != c.want {
				t.Errorf("unexplainedWrites = %d, want %d", got, c.want)
			}
		})
	}
}

// TestQuickBenchRetry runs the retry bench's quick mode end to end: real control plane, real BIRD 1.6 lab,
// 3 agent processes against node1 with peers nobody answers, then with all sessions healthy. It checks
// that BIRD did churn the dead sessions while the agents watched (or the run proves nothing), that the
// agents wrote no more per object with dead peers than with healthy ones, every write counted by the
// agents as a change, and that the status still lists every dead peer as down with BIRD's reason.
func TestQuickBenchRetry(t *testing.T) {
	lab.Prereqs(t)
	bin, err := testenv.BinDir(mustRoot(t))
	prereq.Require(t, err == nil, "control-plane binaries", "make controlplane")
	t.Setenv("KUBEBUILDER_ASSETS", bin)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	cfg := config{Retry: true, Period: 2 * time.Second, Nodes: 3, Bird: 1, LabName: "cnsbrtest", Agents: 3, DeadPeers: 2,
		Window: 20 * time.Second, Idle: 10 * time.Second, Progress: &progress}
	rep, err := runRetry(ctx, cfg)
	if err != nil {
		t.Fatalf("retry bench run: %v\nprogress:\n%s", err, progress.String())
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Logf("report:\n%s", out.String())
	dead, healthy := rep.phase("dead"), rep.phase("healthy")
	perWindow := int(cfg.Window / cfg.Period)
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"both phases measured", len(rep.Phases) == 2 && dead.Window >= cfg.Window && healthy.Window >= cfg.Window},
		{"the dead phase had the added peers and the lab's dead and disabled ones, 2+2+2 per family",
			len(dead.NotEstablished) == 2*(cfg.DeadPeers+2)},
		{"the healthy phase had every session Established", len(healthy.NotEstablished) == 0},
		{"BIRD changed the dead sessions' state, info or since during the window", dead.BirdStateChanges > 0},
		{"every agent collected every period (one less at most: a collection counts when it ends)",
			dead.Collections >= float64(cfg.Agents*(perWindow-1)) && healthy.Collections >= float64(cfg.Agents*(perWindow-1)) &&
				dead.AgentUnchanged+dead.AgentChanged == dead.Collections && healthy.AgentUnchanged+healthy.AgentChanged == healthy.Collections},
		{"dead peers cost no more writes per object than healthy ones", dead.WritesPerObjectHour <= healthy.WritesPerObjectHour},
		{"the agents counted every write the watch saw as a change or heartbeat", float64(dead.Writes) == dead.AgentChanged+dead.AgentHeartbeat &&
			float64(healthy.Writes) == healthy.AgentChanged+healthy.AgentHeartbeat},
		{"no write errors", dead.AgentErrors == 0 && healthy.AgentErrors == 0},
		{"the API server counted at least the writes the watch saw", dead.APIServerWrites >= float64(dead.Writes) && healthy.APIServerWrites >= float64(healthy.Writes)},
		{"every object's status lists every dead peer as down, with reason and since", dead.StatusSaysDown == cfg.Agents},
		{"every target met", strings.Count(out.String(), "target met") == len(rep.verdicts())},
	} {
		if !c.ok {
			t.Errorf("%s: not so; report:\n%s", c.name, out.String())
		}
	}
}
