// Command bench-fleet runs the fleet benchmark (test/fleet) for each size and pattern and prints the
// results as a markdown table and JSON lines. Run it under `flock /tmp/cns-lab.lock` (make bench-fleet).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/test/fleet"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fleet:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		sizes     = flag.String("nodes", "10,100,1000", "fleet sizes, comma separated")
		baseline  = flag.Int("baseline-max", 100, "run the original's pattern too at sizes up to this (0: never)")
		period    = flag.Duration("period", 10*time.Second, "updatePeriodSeconds of every object")
		window    = flag.Duration("window", 60*time.Second, "steady-state measurement window")
		idle      = flag.Duration("idle", 15*time.Second, "idle control-plane measurement before the fleet starts")
		scale     = flag.Float64("churn-scale", 1, "multiply the churn rates (a flap per node per hour, a route change per node per 10 min)")
		retrying  = flag.Float64("retrying", 0.01, "fraction of nodes with a peer retrying (at least 1)")
		restart   = flag.Bool("restart", true, "restart the API server after the window and time the fleet's return")
		heartbeat = flag.Duration("heartbeat", 0, "our agents' heartbeat (0: none, as in their DaemonSet Pod; the Pod's readiness is the freshness signal)")
		quick     = flag.Bool("quick", false, "smoke run: 5 nodes, 20 s window, churn x60")
		prewrite  = flag.Bool("prewritten", false, "create the objects with the status their agents would write (as after a rollout): the first collections write nothing")
		profile   = flag.String("profile", "", "write a CPU profile of kube-apiserver over each window to this file (the size and pattern appended)")
		classes   = flag.String("classes", "managed", "the objects' classes: managed (v3.ManagedClasses(), what enable --all-nodes creates), all, or a comma-separated list")
		out       = flag.String("json", "", "append results as JSON lines to this file")
	)
	verbose := flag.Bool("v", false, "log the hollow agents and client-go (thousands of lines through an API server restart)")
	flag.Parse()
	if !*verbose {
		// client-go's reflectors log every failed list/watch through klog.
		klog.SetOutput(io.Discard)
		klog.LogToStderr(false)
	}
	if *quick {
		*sizes, *window, *idle, *scale, *baseline = "5", 20*time.Second, 5*time.Second, 60, 5
	}
	cls, err := parseClasses(*classes)
	if err != nil {
		return err
	}
	captures, err := fleet.Captures()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	var results []fleet.Result
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("--nodes: bad size %q", s)
		}
		patterns := []fleet.Pattern{fleet.Ours}
		if n <= *baseline {
			patterns = append(patterns, fleet.Original)
		}
		for _, p := range patterns {
			o := fleet.Options{Nodes: n, Pattern: p, Period: *period, Window: *window, Idle: *idle, ChurnScale: *scale,
				Retrying: max(1, int(*retrying*float64(n))), Restart: *restart && p == fleet.Ours, Heartbeat: *heartbeat, Classes: cls, PreWritten: *prewrite,
				Captures: captures, Log: log}
			if *verbose {
				o.AgentLog = log
			}
			if *profile != "" {
				o.Profile = fmt.Sprintf("%s-%d-%s.pprof", strings.TrimSuffix(*profile, ".pprof"), n, p)
			}
			log.Info("fleet run", "nodes", n, "pattern", p)
			r, err := fleet.Run(ctx, o)
			if err != nil {
				return fmt.Errorf("%d nodes, %s: %w", n, p, err)
			}
			if err := fleet.EmitJSON(*out, r); err != nil {
				return err
			}
			results = append(results, r)
		}
	}
	fmt.Print(fleet.Table(results))
	return nil
}

// parseClasses reads --classes.
func parseClasses(s string) ([]v3.NodeStatusClassType, error) {
	switch s {
	case "managed":
		return v3.ManagedClasses(), nil
	case "all":
		return []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}, nil
	}
	var out []v3.NodeStatusClassType
	for _, c := range strings.Split(s, ",") {
		switch ct := v3.NodeStatusClassType(strings.TrimSpace(c)); ct {
		case v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes:
			out = append(out, ct)
		default:
			return nil, fmt.Errorf("--classes: unknown class %q (managed, all, or Agent,BGP,Routes)", c)
		}
	}
	return out, nil
}
