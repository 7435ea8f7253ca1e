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
	quick := flag.Bool("quick", false, "smoke run: 3 periods of 2s (unless --periods/--period are given)")
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
	jsonOut := flag.String("json", "", "also write the report as JSON to this file")
	flag.Parse()
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["periods"] {
			cfg.Periods = 3
		}
		if !set["period"] {
			cfg.Period = 2 * time.Second
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: write %s: %v\n", *jsonOut, err)
			os.Exit(1)
		}
	}
}
