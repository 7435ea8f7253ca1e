// Command calico-node-status-agent runs on every node and keeps the CalicoNodeStatus objects of its node
// current from the node's BIRD daemon(s). See internal/agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/calico-node-status/calico-node-status/internal/agent"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/collect"
	"github.com/calico-node-status/calico-node-status/internal/version"
)

type options struct {
	nodeName, kubeconfig     string
	birdSocket, bird6Socket  string
	metricsAddr, healthAddr  string
	birdTimeout              time.Duration
	maxRoutes, maxRouteBytes int
	maxPeers                 int
	heartbeat                time.Duration
	maxObjects               int
	minFullTable             time.Duration
	kubeQPS                  float64
	kubeBurst                int
	otherWriterQuiet         time.Duration
	verbose                  bool
}

func main() {
	var o options
	flag.StringVar(&o.nodeName, "node-name", os.Getenv("NODENAME"), "this node's name (default $NODENAME)")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; when empty, $KUBECONFIG, then the in-cluster configuration")
	flag.StringVar(&o.birdSocket, "bird-socket", "/var/run/calico/bird.ctl", "BIRD control socket for IPv4 (BIRD 1.6), or for both families (BIRD 2, detected)")
	flag.StringVar(&o.bird6Socket, "bird6-socket", "/var/run/calico/bird6.ctl", "BIRD 1.6 control socket for IPv6 (unused with BIRD 2)")
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":9496", "address of the Prometheus /metrics endpoint (clear of Felix 9091/9099 and Typha 9098 on the host network); 0 disables it")
	flag.StringVar(&o.healthAddr, "health-probe-bind-address", ":9497", "address of /healthz and /readyz; 0 disables it")
	flag.DurationVar(&o.birdTimeout, "bird-timeout", 10*time.Second, "deadline of one collection from BIRD")
	flag.IntVar(&o.maxRoutes, "max-routes-per-family", collect.DefaultMaxRoutesPerFamily, "cap of each route list in status (the status says when it was truncated); -1 for no cap")
	flag.IntVar(&o.maxRouteBytes, "max-route-bytes-per-family", collect.DefaultMaxRouteBytesPerFamily, "cap of the size of each route list in status; -1 for no cap")
	flag.IntVar(&o.maxPeers, "max-peers-per-family", collect.DefaultMaxPeersPerFamily, "cap of each peer list in status (sessions not established first; counts stay complete); -1 for no cap")
	flag.DurationVar(&o.heartbeat, "heartbeat", agent.DefaultHeartbeat, "shortest interval at which lastUpdated advances when nothing changed")
	flag.IntVar(&o.maxObjects, "max-objects-per-node", agent.DefaultMaxObjectsPerNode, "how many CalicoNodeStatus objects of this node are served (the oldest); the others get Ready=False TooManyObjects")
	flag.DurationVar(&o.minFullTable, "min-full-table-interval", agent.DefaultMinFullTableInterval, "shortest interval between two reads of BIRD's route table, however short the objects' periods")
	flag.Float64Var(&o.kubeQPS, "kube-api-qps", 5, "client-side rate limit of requests to the API server, per second")
	flag.IntVar(&o.kubeBurst, "kube-api-burst", 10, "burst of requests to the API server above --kube-api-qps")
	flag.DurationVar(&o.otherWriterQuiet, "other-writer-quiet", agent.DefaultOtherWriterQuiet, "when another field manager (such as calico-node's reporter) writes an object's status, leave the object alone until that writer has not written it for this long")
	flag.BoolVar(&o.verbose, "v", false, "verbose logs (every write)")
	showVersion := flag.Bool("version", false, "print the version, commit and Go version, and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("calico-node-status-agent", version.Get())
		return
	}

	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("agent failed", "err", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	if o.nodeName == "" {
		return errors.New("--node-name (or $NODENAME) is required: the agent reports only its own node's objects")
	}
	if o.maxObjects < 1 {
		return fmt.Errorf("--max-objects-per-node (%d) must be at least 1", o.maxObjects)
	}
	if o.minFullTable < 0 {
		return fmt.Errorf("--min-full-table-interval (%v) must not be negative", o.minFullTable)
	}
	if o.kubeQPS <= 0 || o.kubeBurst <= 0 {
		return fmt.Errorf("--kube-api-qps (%v) and --kube-api-burst (%d) must be positive", o.kubeQPS, o.kubeBurst)
	}
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(o.kubeQPS), o.kubeBurst
	store, err := agent.NewKubeStore(cfg, o.nodeName)
	if err != nil {
		return err
	}
	kubeEvents, err := agent.NewKubeEvents(cfg, o.nodeName, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), version.NewCollector())
	m, err := agent.NewMetrics(reg)
	if err != nil {
		return err
	}
	events := agent.NewAsyncEvents(kubeEvents, agent.DefaultEventQueue, m.EventDropped)
	go events.Run(ctx)
	// Who serves CalicoNodeStatus (our CRD, Calico's API server, Calico's own CRD) is checked at start and
	// whenever the API answers as if it were not ours; until it is ours the agent is not ready and says why.
	checker, err := agent.NewAPIChecker(cfg, log, m)
	if err != nil {
		return err
	}
	store.APIChecker = checker
	r := &agent.Reconciler{
		Store:     store,
		NodeName:  o.nodeName,
		Source:    &bird.Collector{V4Socket: o.birdSocket, V6Socket: o.bird6Socket, Timeout: o.birdTimeout},
		Events:    events,
		Metrics:   m,
		Collect:   collect.Options{MaxRoutesPerFamily: o.maxRoutes, MaxRouteBytesPerFamily: o.maxRouteBytes, MaxPeersPerFamily: o.maxPeers},
		Heartbeat: o.heartbeat,
		Log:       log,

		MaxObjects:           o.maxObjects,
		MinFullTableInterval: o.minFullTable,
		APIChecker:           checker,
		OtherWriterQuiet:     o.otherWriterQuiet,
	}
	ctrl, err := agent.NewController(r, store.Informer(), log)
	if err != nil {
		return err
	}

	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	healthMux := http.NewServeMux()
	healthMux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	healthMux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := checker.ReadyError(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if !ctrl.Synced() {
			http.Error(w, "caliconodestatus watch not synced", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	for _, s := range []struct {
		addr string
		h    http.Handler
	}{{o.metricsAddr, metricsMux}, {o.healthAddr, healthMux}} {
		if s.addr == "0" || s.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.addr, err)
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		go func() {
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
	}

	log.Info("starting", "version", version.Get().Version, "commit", version.Get().Commit, "node", o.nodeName, "birdSocket", o.birdSocket, "bird6Socket", o.bird6Socket,
		"metrics", o.metricsAddr, "health", o.healthAddr)
	go checker.Run(ctx)
	return ctrl.Run(ctx)
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("find Kubernetes configuration (--kubeconfig, $KUBECONFIG, in-cluster): %w", err)
	}
	return cfg, nil
}
