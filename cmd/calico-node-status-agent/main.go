// Command calico-node-status-agent runs on every node and keeps the CalicoNodeStatus objects of its node
// current from the node's BIRD daemon(s). See internal/agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/calico-node-status/calico-node-status/internal/agent"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/collect"
	cnsscheme "github.com/calico-node-status/calico-node-status/internal/scheme"
)

type options struct {
	nodeName, kubeconfig     string
	birdSocket, bird6Socket  string
	metricsAddr, healthAddr  string
	birdTimeout              time.Duration
	maxRoutes, maxRouteBytes int
	heartbeat                time.Duration
	verbose                  bool
}

func main() {
	var o options
	flag.StringVar(&o.nodeName, "node-name", os.Getenv("NODENAME"), "this node's name (default $NODENAME)")
	// --kubeconfig is registered by controller-runtime (pkg/client/config) and read by ctrl.GetConfig.
	flag.StringVar(&o.birdSocket, "bird-socket", "/var/run/calico/bird.ctl", "BIRD control socket for IPv4 (BIRD 1.6), or for both families (BIRD 2, detected)")
	flag.StringVar(&o.bird6Socket, "bird6-socket", "/var/run/calico/bird6.ctl", "BIRD 1.6 control socket for IPv6 (unused with BIRD 2)")
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":9496", "address of the Prometheus /metrics endpoint (clear of Felix 9091/9099 and Typha 9098 on the host network); 0 disables it")
	flag.StringVar(&o.healthAddr, "health-probe-bind-address", ":9497", "address of /healthz and /readyz; 0 disables it")
	flag.DurationVar(&o.birdTimeout, "bird-timeout", 10*time.Second, "deadline of one collection from BIRD")
	flag.IntVar(&o.maxRoutes, "max-routes-per-family", collect.DefaultMaxRoutesPerFamily, "cap of each route list in status (the status says when it was truncated); -1 for no cap")
	flag.IntVar(&o.maxRouteBytes, "max-route-bytes-per-family", collect.DefaultMaxRouteBytesPerFamily, "cap of the size of each route list in status; -1 for no cap")
	flag.DurationVar(&o.heartbeat, "heartbeat", agent.DefaultHeartbeat, "shortest interval at which lastUpdated advances when nothing changed")
	flag.BoolVar(&o.verbose, "v", false, "verbose logs (every write)")
	flag.Parse()

	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctrl.SetLogger(log)
	if err := run(ctrl.SetupSignalHandler(), o, log); err != nil {
		log.Error(err, "agent failed")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log logr.Logger) error {
	if o.nodeName == "" {
		return errors.New("--node-name (or $NODENAME) is required: the agent reports only its own node's objects")
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("find Kubernetes configuration (--kubeconfig, $KUBECONFIG, in-cluster or ~/.kube/config): %w", err)
	}
	scheme, err := cnsscheme.New()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                 scheme,
		Cache:                  agent.CacheOptions(o.nodeName),
		Metrics:                metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress: o.healthAddr,
		Logger:                 log,
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	m, err := agent.NewMetrics(metrics.Registry)
	if err != nil {
		return err
	}
	r := &agent.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		NodeName:  o.nodeName,
		Source:    &bird.Collector{V4Socket: o.birdSocket, V6Socket: o.bird6Socket, Timeout: o.birdTimeout},
		Events:    mgr.GetEventRecorder(agent.FieldOwner),
		Metrics:   m,
		Collect:   collect.Options{MaxRoutesPerFamily: o.maxRoutes, MaxRouteBytesPerFamily: o.maxRouteBytes},
		Heartbeat: o.heartbeat,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up reconciler: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("informers", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("informer cache not synced")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("add readyz check: %w", err)
	}
	log.Info("starting", "node", o.nodeName, "birdSocket", o.birdSocket, "bird6Socket", o.bird6Socket)
	return mgr.Start(ctx)
}
