package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	cfg := config{Progress: os.Stderr}
	quick := flag.Bool("quick", false, "smoke run: 3 periods of 2s; with --retry 3 agents, 2 dead peers per family, 20s windows, 10s idle (flags given explicitly win)")
	flag.IntVar(&cfg.Periods, "periods", 12, "periods to measure")
	flag.DurationVar(&cfg.Period, "period", 10*time.Second, "spec.updatePeriodSeconds of both objects (whole seconds)")
	flag.IntVar(&cfg.Nodes, "nodes", 11, "lab nodes (node1 is measured and has nodes-1 mesh peers per family)")
	flag.IntVar(&cfg.Bird, "bird", 1, "BIRD major version of the lab: 1 (1.6) or 2")
	flag.StringVar(&cfg.LabName, "lab", "cnsbench", "name of the lab")
	flag.BoolVar(&cfg.ReuseLab, "reuse-lab", false, "use the lab already up under --lab and leave it up")
	flag.StringVar(&cfg.AgentBin, "agent-bin", "", "prebuilt agent binary (built from ./cmd/calico-node-status-agent when empty)")
	flag.StringVar(&cfg.OriginalBin, "original-bin", "", "prebuilt baseline binary (built from ./test/bench/original when empty)")
	flag.StringVar(&cfg.OriginalWrites, "original-writes", "always", "baseline write policy: always (every tick) or deepequal (Calico's reflect.DeepEqual skip)")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the work dir (logs, kubeconfig)")
	flag.BoolVar(&cfg.Retry, "retry", false, "retry bench: --agents agents against node1 with --dead-peers peers nobody answers, then all healthy (make bench-retry)")
	flag.IntVar(&cfg.Agents, "agents", 20, "--retry: agent processes, one object and node name each")
	flag.IntVar(&cfg.DeadPeers, "dead-peers", 4, fmt.Sprintf("--retry: peers nobody answers added per family (1-%d)", maxDeadPeers))
	flag.DurationVar(&cfg.Window, "window", 3*time.Minute, "--retry: measured window of each phase")
	flag.DurationVar(&cfg.Idle, "idle", time.Minute, "--retry: window of the idle control plane measurement")
	jsonOut := flag.String("json", "", "also write the report as JSON to this file")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	defaults := func(name string, apply func()) {
		if !set[name] {
			apply()
		}
	}
	if cfg.Retry {
		defaults("nodes", func() { cfg.Nodes = 3 })
		defaults("lab", func() { cfg.LabName = "cnsbretry" })
	}
	if *quick {
		defaults("periods", func() { cfg.Periods = 3 })
		defaults("period", func() { cfg.Period = 2 * time.Second })
		defaults("agents", func() { cfg.Agents = 3 })
		defaults("dead-peers", func() { cfg.DeadPeers = 2 })
		defaults("window", func() { cfg.Window = 20 * time.Second })
		defaults("idle", func() { cfg.Idle = 10 * time.Second })
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cfg.Retry {
		rep, err := runRetry(ctx, cfg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		rep.print(os.Stdout)
		writeJSON(*jsonOut, rep)
		return
	}
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
	writeJSON(*jsonOut, rep)
}

// writeJSON writes the report as JSON to path when path is set.
func writeJSON(path string, rep any) {
	if path == "" {
		return
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: write %s: %v\n", path, err)
		os.Exit(1)
	}
}
