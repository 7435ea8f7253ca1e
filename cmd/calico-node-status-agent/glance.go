package main

import (
	"context"
	"flag"
	"log/slog"

	"github.com/calico-node-status/calico-node-status/internal/agent"
)

// glanceOptions are the flags of the cluster-wide views' support in the agent (issue 14).
type glanceOptions struct {
	ensureOwnObject bool
}

func registerGlanceFlags(fs *flag.FlagSet, o *glanceOptions) {
	fs.BoolVar(&o.ensureOwnObject, "ensure-own-object", false, "create this node's CalicoNodeStatus (cns-<node>, classes Agent and BGP, labelled as calico-node-status enable labels them) when the node has none, once at start; needs RBAC create on caliconodestatuses (config/rbac/ensure-own-object)")
}

// startGlance starts what the glance flags ask for, in the background.
func startGlance(ctx context.Context, o options, store *agent.KubeStore, ctrl *agent.Controller, log *slog.Logger) {
	if o.glance.ensureOwnObject {
		own := &agent.OwnObject{Node: o.nodeName, Store: store, Creator: store, Synced: ctrl.Synced, Log: log}
		go func() { _, _ = own.Run(ctx) }() // it logs its outcome; ends with ctx
	}
}
