// Command calico-node-status-agent runs on every node and keeps the CalicoNodeStatus objects of its node
// current from the node's BIRD daemon(s). See internal/agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/agent"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
	"github.com/calico-node-status/calico-node-status/internal/version"
)

type options struct {
	nodeName, kubeconfig    string
	birdSocket, bird6Socket string
	// birdSocketSet and bird6SocketSet say the flag was given: a given socket is used as is, a default
	// one falls back like calico-node (see defaultSockets).
	birdSocketSet, bird6SocketSet bool
	metricsAddr, healthAddr       string
	birdTimeout                   time.Duration
	maxRoutes, maxRouteBytes      int
	maxPeers                      int
	maxStatusBytes                int
	memoryLimit                   string
	maxReplyBytes                 string
	maxRouteReplyBytes            string
	heartbeat                     time.Duration
	heartbeatSet                  bool         // --heartbeat given (0 then means none); see freshness.go
	pod                           agent.PodRef // from the downward API; see freshness.go
	maxObjects                    int
	minFullTable                  time.Duration
	kubeQPS                       float64
	kubeBurst                     int
	otherWriterQuiet              time.Duration
	verbose                       bool
	glance                        glanceOptions // glance.go
}

// sizing is what the agent derives from its options and its container: the memory limit it found, the
// GOMEMLIMIT it set, the reply caps.
type sizing struct {
	memoryLimit    int64
	limitFrom      string
	gomemlimit     int64 // 0: left as it was ($GOMEMLIMIT, or none)
	replyCap       int64
	routesReplyCap int64
}

// validate refuses caps outside what the CRD accepts, at start and naming the flag, rather than a status
// the API server would refuse every period.
func (o options) validate() error {
	for _, c := range []struct {
		flag    string
		v       int
		lo, hi  int
		meaning string
	}{
		{"--max-routes-per-family", o.maxRoutes, 1, v3.MaxRoutesPerFamily, "the CRD's maxItems of routesV4/routesV6"},
		{"--max-peers-per-family", o.maxPeers, 1, v3.MaxPeersPerFamily, "the CRD's maxItems of peersV4/peersV6"},
		{"--max-status-bytes", o.maxStatusBytes, 64 << 10, 3 << 20, "64 KiB, and the API server's 3 MiB request limit"},
		{"--max-route-bytes-per-family", o.maxRouteBytes, 1 << 10, o.maxStatusBytes, "1 KiB, and --max-status-bytes"},
	} {
		if c.v < c.lo || c.v > c.hi {
			return fmt.Errorf("%s=%d: must be between %d and %d (%s)", c.flag, c.v, c.lo, c.hi, c.meaning)
		}
	}
	if o.birdTimeout <= 0 {
		return fmt.Errorf("--bird-timeout=%v: must be positive", o.birdTimeout)
	}
	if o.heartbeat < 0 {
		return fmt.Errorf("--heartbeat=%v: must not be negative (0: none)", o.heartbeat)
	}
	if err := o.pod.Validate(); err != nil {
		return fmt.Errorf("--pod-name, --pod-namespace, --pod-uid: %w", err)
	}
	return nil
}

// size finds the container's memory limit (unless --memory-limit says it) and derives the reply caps
// (unless set) and GOMEMLIMIT (unless $GOMEMLIMIT is set: an operator's choice wins).
func (o options) size(fsys fs.FS, env func(string) string) (sizing, error) {
	var sz sizing
	switch o.memoryLimit {
	case "auto":
		sz.memoryLimit, sz.limitFrom = memoryLimit(fsys)
	case "none", "0":
	default:
		n, err := parseBytes(o.memoryLimit)
		if err != nil {
			return sz, fmt.Errorf("--memory-limit: %w", err)
		}
		sz.memoryLimit, sz.limitFrom = n, "--memory-limit"
	}
	if sz.memoryLimit > 0 && env("GOMEMLIMIT") == "" {
		sz.gomemlimit = sz.memoryLimit * gomemlimitPercent / 100
	}
	sz.replyCap = replyCapFor(sz.memoryLimit)
	if o.maxReplyBytes != "auto" {
		n, err := parseBytes(o.maxReplyBytes)
		if err != nil || n < 64<<10 {
			return sz, fmt.Errorf("--max-reply-bytes=%s: want a size of at least 64Ki, or auto", o.maxReplyBytes)
		}
		sz.replyCap = n
	}
	n, err := parseBytes(o.maxRouteReplyBytes)
	if err != nil || n < 64<<10 {
		return sz, fmt.Errorf("--max-route-reply-bytes=%s: want a size of at least 64Ki", o.maxRouteReplyBytes)
	}
	sz.routesReplyCap = n
	return sz, nil
}

func main() {
	var o options
	registerFlags(flag.CommandLine, &o)
	showVersion := flag.Bool("version", false, "print the version, commit and Go version, and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("calico-node-status-agent", version.Get())
		return
	}
	noteSetFlags(flag.CommandLine, &o)

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

// registerFlags defines the agent's flags on fs, filling o.
func registerFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.nodeName, "node-name", os.Getenv("NODENAME"), "this node's name (default $NODENAME)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; when empty, $KUBECONFIG, then the in-cluster configuration")
	fs.StringVar(&o.birdSocket, "bird-socket", defaultSockets.v4[0], "BIRD control socket for IPv4 (BIRD 1.6), or for both families (BIRD 2, detected); left unset, "+strings.Join(defaultSockets.v4, " then ")+", as calico-node reads them")
	fs.StringVar(&o.bird6Socket, "bird6-socket", defaultSockets.v6[0], "BIRD 1.6 control socket for IPv6 (unused with BIRD 2); left unset, "+strings.Join(defaultSockets.v6, " then "))
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":9496", "address of the Prometheus /metrics endpoint (clear of Felix 9091/9099 and Typha 9098 on the host network); 0 disables it")
	fs.StringVar(&o.healthAddr, "health-probe-bind-address", ":9497", "address of /healthz and /readyz; 0 disables it")
	fs.DurationVar(&o.birdTimeout, "bird-timeout", 10*time.Second, "deadline of one collection from BIRD")
	fs.IntVar(&o.maxRoutes, "max-routes-per-family", v3.DefaultMaxRoutesPerFamily, fmt.Sprintf("cap of each route list in status, 1 to %d (the status says when it was truncated; the totals stay complete); also how many routes per family the agent keeps while reading BIRD", v3.MaxRoutesPerFamily))
	fs.IntVar(&o.maxRouteBytes, "max-route-bytes-per-family", v3.DefaultMaxRouteBytesPerFamily, "cap of the JSON size of each route list in status, 1024 to --max-status-bytes")
	fs.IntVar(&o.maxPeers, "max-peers-per-family", v3.DefaultMaxPeersPerFamily, fmt.Sprintf("cap of each peer list in status, 1 to %d (sessions not established first; counts stay complete)", v3.MaxPeersPerFamily))
	fs.IntVar(&o.maxStatusBytes, "max-status-bytes", v3.DefaultMaxStatusBytes, "cap of the JSON size of all peer and route lists of a status together, 65536 to 3145728 (peers kept before routes)")
	fs.StringVar(&o.memoryLimit, "memory-limit", "auto", "the container's memory limit (bytes, or with Ki/Mi/Gi), from which GOMEMLIMIT (85 %, unless $GOMEMLIMIT is set) and --max-reply-bytes derive; auto: read from the cgroup (v2 memory.max, v1 memory.limit_in_bytes); none: no limit")
	fs.StringVar(&o.maxReplyBytes, "max-reply-bytes", "auto", "cap of a BIRD reply held while parsed (show status, show protocols all); auto: a quarter of the memory limit within [4Mi, 64Mi], 64Mi without a limit")
	fs.StringVar(&o.maxRouteReplyBytes, "max-route-reply-bytes", "1Gi", "cap of a `show route` reply; the routes are streamed into the capped selection, so its size costs time (bounded by --bird-timeout), not memory")
	registerPodFlags(fs, o) // freshness.go: --pod-name, --pod-namespace, --pod-uid, --heartbeat
	fs.IntVar(&o.maxObjects, "max-objects-per-node", agent.DefaultMaxObjectsPerNode, "how many CalicoNodeStatus objects of this node are served (the oldest); the others get Ready=False TooManyObjects")
	fs.DurationVar(&o.minFullTable, "min-full-table-interval", agent.DefaultMinFullTableInterval, "shortest interval between two reads of BIRD's route table, however short the objects' periods")
	fs.Float64Var(&o.kubeQPS, "kube-api-qps", 5, "client-side rate limit of requests to the API server, per second")
	fs.IntVar(&o.kubeBurst, "kube-api-burst", 10, "burst of requests to the API server above --kube-api-qps")
	fs.DurationVar(&o.otherWriterQuiet, "other-writer-quiet", agent.DefaultOtherWriterQuiet, "when another field manager (such as calico-node's reporter) writes an object's status, leave the object alone until that writer has not written it for this long")
	fs.BoolVar(&o.verbose, "v", false, "verbose logs (every write)")
	registerGlanceFlags(fs, &o.glance)
}

// noteSetFlags records which socket flags were given on the command line (even with the default's value):
// those are used as given, the others fall back like calico-node.
func noteSetFlags(fs *flag.FlagSet, o *options) {
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "bird-socket":
			o.birdSocketSet = true
		case "bird6-socket":
			o.bird6SocketSet = true
		case "heartbeat":
			o.heartbeatSet = true
		}
	})
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
	if err := o.validate(); err != nil {
		return err
	}
	sz, err := o.size(os.DirFS("/"), os.Getenv)
	if err != nil {
		return err
	}
	if sz.gomemlimit > 0 {
		debug.SetMemoryLimit(sz.gomemlimit)
	}
	log.Info("memory", "limit", sz.memoryLimit, "limitFrom", sz.limitFrom, "gomemlimit", debug.SetMemoryLimit(-1),
		"maxReplyBytes", sz.replyCap, "maxRouteReplyBytes", sz.routesReplyCap, "routesKeptPerFamily", o.maxRoutes)
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
	src := newCollector(o, defaultSockets)
	src.MaxReplyBytes, src.MaxRouteReplyBytes = sz.replyCap, sz.routesReplyCap
	// Keep only the routes a status capped at --max-routes-per-family can list: memory does not grow with
	// the table.
	src.MaxRoutes = o.maxRoutes
	// Defence in depth: BIRD itself refuses anything but queries on the agent's sessions.
	src.Restrict = true
	r := agent.NewReconciler(agent.Options{
		Store:    store,
		NodeName: o.nodeName,
		Source:   src,
		Events:   events,
		Metrics:  m,
		Collect: status.Options{MaxRoutesPerFamily: o.maxRoutes, MaxRouteBytesPerFamily: o.maxRouteBytes, MaxPeersPerFamily: o.maxPeers,
			MaxStatusBytes: o.maxStatusBytes},
		Pod:       o.pod,
		Heartbeat: o.reconcilerHeartbeat(),
		Log:       log,

		MaxObjects:           o.maxObjects,
		MinFullTableInterval: o.minFullTable,
		APIChecker:           checker,
		OtherWriterQuiet:     o.otherWriterQuiet,
	})
	ctrl, err := agent.NewController(r, store.Informer(), log)
	if err != nil {
		return err
	}

	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	healthMux := http.NewServeMux()
	healthMux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	healthMux.Handle("/readyz", readyz(checker.ReadyError, func() error {
		if !ctrl.Synced() {
			return errors.New("caliconodestatus watch not synced")
		}
		return nil
	}, r.ReadyError))
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

	log.Info("starting", "version", version.Get().Version, "commit", version.Get().Commit, "node", o.nodeName, "birdSocket", append([]string{src.V4Socket}, src.V4Fallbacks...),
		"bird6Socket", append([]string{src.V6Socket}, src.V6Fallbacks...),
		"metrics", o.metricsAddr, "health", o.healthAddr,
		"pod", o.pod.Namespace+"/"+o.pod.Name, "heartbeat", r.Heartbeat)
	go checker.Run(ctx)
	if err := startGlance(ctx, o, store, ctrl, r, reg, log); err != nil {
		return err
	}
	return ctrl.Run(ctx)
}

// socketCandidates are the control sockets tried in order, per family, when its flag is left unset.
type socketCandidates struct{ v4, v6 []string }

// defaultSockets are calico-node's: BIRD in calico-node's container serves /var/run/calico/bird{,6}.ctl;
// a BIRD installed on the host (non-containerised installs) serves /var/run/bird/bird{,6}.ctl.
var defaultSockets = socketCandidates{
	v4: []string{"/var/run/calico/bird.ctl", "/var/run/bird/bird.ctl"},
	v6: []string{"/var/run/calico/bird6.ctl", "/var/run/bird/bird6.ctl"},
}

// newCollector reads the sockets the flags name; a family whose flag was left unset tries cands in
// order at every collection, so a BIRD started (or moved) later is found without a restart.
func newCollector(o options, cands socketCandidates) *bird.Collector {
	c := &bird.Collector{V4Socket: o.birdSocket, V6Socket: o.bird6Socket, Timeout: o.birdTimeout}
	if !o.birdSocketSet && len(cands.v4) > 0 {
		c.V4Socket, c.V4Fallbacks = cands.v4[0], cands.v4[1:]
	}
	if !o.bird6SocketSet && len(cands.v6) > 0 {
		c.V6Socket, c.V6Fallbacks = cands.v6[0], cands.v6[1:]
	}
	return c
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
