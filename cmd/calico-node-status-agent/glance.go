package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/calico-node-status/calico-node-status/internal/agent"
	"github.com/calico-node-status/calico-node-status/internal/agent/ownobject"
)

// glanceOptions are the agent's flags for the cluster-wide views and the always-on metrics (issue 14).
type glanceOptions struct {
	ensureOwnObject bool
	metricsInterval time.Duration
}

func registerGlanceFlags(fs *flag.FlagSet, o *glanceOptions) {
	fs.BoolVar(&o.ensureOwnObject, "ensure-own-object", false, "create this node's CalicoNodeStatus (cns-<node>, classes Agent and BGP, labelled as calico-node-status enable labels them) when the node has none, once at start; needs RBAC create on caliconodestatuses (config/rbac/ensure-own-object)")
	fs.DurationVar(&o.metricsInterval, "metrics-interval", agent.DefaultMetricsInterval, "how often BIRD's sessions are read for the session metrics (calico_node_status_bgp_session_up, ...), whether or not any CalicoNodeStatus exists; shared with status collections; 0 disables those metrics")
}

// startGlance starts what the glance flags ask for, in the background.
func startGlance(ctx context.Context, o options, store *agent.KubeStore, ctrl *agent.Controller, r *agent.Reconciler, reg prometheus.Registerer, log *slog.Logger) error {
	if o.glance.metricsInterval < 0 {
		return fmt.Errorf("--metrics-interval (%v) must not be negative (0 disables the session metrics)", o.glance.metricsInterval)
	}
	if o.glance.metricsInterval > 0 {
		m, err := agent.NewSessionMetrics(reg, o.nodeName)
		if err != nil {
			return err
		}
		loop := &agent.MetricsLoop{Reconciler: r, Metrics: m, Interval: o.glance.metricsInterval, Log: log}
		go loop.Run(ctx)
	}
	if o.glance.ensureOwnObject {
		own := &ownobject.Ensurer{Node: o.nodeName, Store: store, Creator: store, Synced: ctrl.Synced, Log: log}
		go func() { _, _ = own.Run(ctx) }() // it logs its outcome; ends with ctx
	}
	return nil
}
