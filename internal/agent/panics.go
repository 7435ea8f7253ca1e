package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// A panic is a bug met by some input (a BIRD reply, an object). It must cost one section of one
// collection, or one reconcile, never the process: a daemon that keeps answering the same way would
// otherwise crash-loop the agent on every node that runs it. Each one recovered is logged with its stack
// and counted in calico_node_status_panics_total{where}:
//
//	where="parse"      a parser panicked on a reply: that section of that family fails with a
//	                   *bird.PanicError (issue CollectionFailed); the bird package recovers it
//	where="collect"    the collection panicked outside any one section: every section needed fails
//	where="reconcile"  a reconcile panicked (mapping, status, write): the object is retried with backoff

// Where labels of calico_node_status_panics_total.
const (
	panicParse     = "parse"
	panicCollect   = "collect"
	panicReconcile = "reconcile"
)

// safeCollect is src.Collect, with a panic turned into an error of every needed section. *bird.Collector
// recovers its own panics; this also covers any other SnapshotSource.
func safeCollect(ctx context.Context, src SnapshotSource, need bird.Need, log *slog.Logger) (snap bird.Snapshot) {
	defer func() {
		if v := recover(); v != nil {
			perr := &bird.PanicError{Command: "collect", Value: v, Stack: debug.Stack()}
			snap = bird.Snapshot{V4: bird.DaemonSnapshot{Family: bird.IPv4}, V6: bird.DaemonSnapshot{Family: bird.IPv6}}
			now := time.Now()
			for _, d := range []*bird.DaemonSnapshot{&snap.V4, &snap.V6} {
				d.CollectedAt = now
				if need.Status {
					d.StatusErr = perr
				}
				if need.Protocols {
					d.ProtocolsErr = perr
				}
				if need.Routes {
					d.RoutesErr = perr
				}
			}
		}
		logPanics(log, snap)
	}()
	return src.Collect(ctx, need)
}

// snapshotPanics returns the distinct panics a snapshot's sections report (BIRD 2 fills both families
// from one reply, and a panic outside the sections fails all of them with the same error).
func snapshotPanics(snap bird.Snapshot) []*bird.PanicError {
	var out []*bird.PanicError
	for _, d := range []*bird.DaemonSnapshot{&snap.V4, &snap.V6} {
		for _, err := range []error{d.StatusErr, d.ProtocolsErr, d.RoutesErr} {
			var pe *bird.PanicError
			if !errors.As(err, &pe) {
				continue
			}
			dup := false
			for _, seen := range out {
				dup = dup || seen == pe
			}
			if !dup {
				out = append(out, pe)
			}
		}
	}
	return out
}

func panicWhere(pe *bird.PanicError) string {
	if pe.Command == "collect" {
		return panicCollect
	}
	return panicParse
}

func logPanics(log *slog.Logger, snap bird.Snapshot) {
	if log == nil {
		return
	}
	for _, pe := range snapshotPanics(snap) {
		log.Error("BIRD collection panicked; the section reports the error and the agent goes on",
			"where", panicWhere(pe), "command", pe.Command, "panic", bird.CleanText(fmt.Sprint(pe.Value)), "stack", string(pe.Stack))
	}
}

// safeReconcile is r.Reconcile with a panic turned into an error (the controller retries the object with
// backoff), logged and counted.
func (r *Reconciler) safeReconcile(ctx context.Context, name string) (after time.Duration, err error) {
	defer func() {
		if v := recover(); v != nil {
			r.Metrics.panicked(panicReconcile)
			if r.Log != nil {
				r.Log.Error("reconcile panicked; retrying with backoff", "caliconodestatus", name,
					"panic", bird.CleanText(fmt.Sprint(v)), "stack", string(debug.Stack()))
			}
			after, err = 0, fmt.Errorf("reconcile caliconodestatus %s panicked: %v", name, v)
		}
	}()
	return r.Reconcile(ctx, name)
}
