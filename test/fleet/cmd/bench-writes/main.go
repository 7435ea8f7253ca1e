// Command bench-writes measures kube-apiserver's (+ etcd's) CPU per CalicoNodeStatus status write by
// method (full PUT, JSON merge patch, server-side apply), object size and number of idle field-selected
// watchers (test/fleet.RunWrites), and prints a markdown table with each method's ratio to the PUT of
// the same run, and JSON lines. Run it under `flock /tmp/cns-lab.lock` (make bench-writes).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/calico-node-status/calico-node-status/test/fleet"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-writes:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		watchers = flag.String("watchers", "0,1000", "idle field-selected watches to measure with, ascending, comma separated")
		writes   = flag.Int("writes", 150, "writes per cell")
		repeats  = flag.Int("repeats", 3, "repeats of every cell")
		idle     = flag.Duration("idle", 10*time.Second, "idle control-plane measurement at each watcher count")
		quick    = flag.Bool("quick", false, "smoke run: 0 and 50 watchers, 20 writes, 1 repeat")
		out      = flag.String("json", "", "append results as JSON lines to this file")
	)
	flag.Parse()
	if *quick {
		*watchers, *writes, *repeats, *idle = "0,50", 20, 1, 3*time.Second
	}
	var ws []int
	for _, s := range strings.Split(*watchers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || (len(ws) > 0 && n < ws[len(ws)-1]) {
			return fmt.Errorf("--watchers: bad or descending count %q", s)
		}
		ws = append(ws, n)
	}
	captures, err := fleet.Captures()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	rs, err := fleet.RunWrites(ctx, fleet.WritesOptions{Watchers: ws, Writes: *writes, Repeats: *repeats, Idle: *idle,
		Captures: captures, Log: log})
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := fleet.EmitJSON(*out, r); err != nil {
			return err
		}
	}
	fmt.Print(fleet.WritesTable(rs))
	return nil
}
