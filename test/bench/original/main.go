// Command original is the benchmark's baseline: CalicoNodeStatus collection done the way Calico's
// node/pkg/status does it, rebuilt here (no Calico code) so that test/bench can measure it beside our agent
// in the same run. It is not a product and must not be used as one.
//
// What it keeps from the original, because that is what costs:
//   - a full informer on ALL CalicoNodeStatus objects of the cluster (the original's syncer watches every
//     object of every node and filters on spec.node itself);
//   - one goroutine and one time.Ticker per object (reporter.go);
//   - per tick, for each family and each class, one populator that opens its OWN connection to the
//     family's BIRD socket (getBirdConn per Populate, closed after): Agent sends `show status`, BGP sends
//     `show protocols` and then one `show protocols all <name>` per BGP protocol on that connection,
//     Routes sends `show route`. With BIRD 1.6 and all classes that is 6 connections and 6 + peers
//     commands per tick;
//   - line parsing with bufio.Scanner, strings.Fields and regular expressions per route line;
//   - a full-object Update of the status every tick (--writes=always, the default), or Calico's literal
//     reflect.DeepEqual check against the object it last wrote (--writes=deepequal).
//
// Deviations, each chosen so the baseline does work the original would do rather than less: route lines it
// cannot attribute to a protocol are skipped (the original aborts the whole update on them, e.g. on BIRD
// 1.6's "multipath" and "prohibited" lines, and would then never write at all in the lab); the status is
// written into this project's projectcalico.org/v3 types through the status subresource.
//
// On SIGTERM or SIGINT it prints one JSON line of counters to stdout and exits 0.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cnsscheme "github.com/calico-node-status/calico-node-status/internal/scheme"
)

type options struct {
	nodeName, kubeconfig    string
	birdSocket, bird6Socket string
	writes                  string
	birdTimeout             time.Duration
}

// counters are what the process reports at exit; the bench cross-checks them with its own counts.
type counters struct {
	Ticks       atomic.Int64 `json:"-"`
	Writes      atomic.Int64 `json:"-"`
	WriteErrors atomic.Int64 `json:"-"`
	Conflicts   atomic.Int64 `json:"-"`
	Conns       atomic.Int64 `json:"-"`
	Commands    atomic.Int64 `json:"-"`
	PopulateErr atomic.Int64 `json:"-"`
}

func (c *counters) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]int64{
		"ticks": c.Ticks.Load(), "writes": c.Writes.Load(), "writeErrors": c.WriteErrors.Load(),
		"conflicts": c.Conflicts.Load(), "birdConnections": c.Conns.Load(), "birdCommands": c.Commands.Load(),
		"populateErrors": c.PopulateErr.Load(),
	})
}

func main() {
	var o options
	flag.StringVar(&o.nodeName, "node-name", os.Getenv("NODENAME"), "node whose objects this process reports (default $NODENAME)")
	flag.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	flag.StringVar(&o.birdSocket, "bird-socket", "/var/run/calico/bird.ctl", "BIRD 1.6 IPv4 control socket")
	flag.StringVar(&o.bird6Socket, "bird6-socket", "/var/run/calico/bird6.ctl", "BIRD 1.6 IPv6 control socket")
	flag.StringVar(&o.writes, "writes", "always", "always: Update the status every tick; deepequal: skip when reflect.DeepEqual says nothing changed (Calico's check)")
	flag.DurationVar(&o.birdTimeout, "bird-timeout", 2*time.Second, "read deadline per reply line (Calico's birdTimeOut)")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	var c counters
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, o, log, &c); err != nil {
		log.Error("original-style reporter failed", "err", err)
		os.Exit(1)
	}
	b, err := json.Marshal(&c)
	if err != nil {
		log.Error("encode counters", "err", err)
		os.Exit(1)
	}
	fmt.Println(string(b))
}

func run(ctx context.Context, o options, log *slog.Logger, c *counters) error {
	if o.nodeName == "" {
		return errors.New("--node-name is required")
	}
	if o.writes != "always" && o.writes != "deepequal" {
		return fmt.Errorf("--writes %q: want always or deepequal", o.writes)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("load kubeconfig %s: %w", o.kubeconfig, err)
	}
	scheme, err := cnsscheme.New()
	if err != nil {
		return err
	}
	// No ByObject selector: every CalicoNodeStatus of the cluster is cached, as the original's syncer does.
	informers, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("create informer cache: %w", err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	bird := &birdClient{sockets: map[family]string{v4: o.birdSocket, v6: o.bird6Socket}, timeout: o.birdTimeout, c: c}
	r := newNodeStatusReporter(o.nodeName, cl, bird, o.writes == "deepequal", log, c)
	if err := r.watch(ctx, informers); err != nil {
		return err
	}
	go func() {
		if err := informers.Start(ctx); err != nil {
			log.Error("informer cache stopped", "err", err)
		}
	}()
	if !informers.WaitForCacheSync(ctx) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("informer cache did not sync")
	}
	r.setInSync()
	r.run(ctx)
	return nil
}
