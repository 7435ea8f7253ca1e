package main

import (
	"flag"
	"net/http"
	"os"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// registerPodFlags defines the flags of the agent's identity and heartbeat. The agent records its Pod in
// every status (status.reporter); readers then take the Pod's readiness (this agent's /readyz) as the
// sign that the status is current, and no heartbeat write is needed. The DaemonSet sets the environment
// from the downward API.
func registerPodFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.pod.Name, "pod-name", os.Getenv("POD_NAME"), "this agent's Pod, recorded in every status as the freshness signal (default $POD_NAME; empty outside a Pod)")
	fs.StringVar(&o.pod.Namespace, "pod-namespace", os.Getenv("POD_NAMESPACE"), "the namespace of this agent's Pod (default $POD_NAMESPACE)")
	fs.StringVar(&o.pod.UID, "pod-uid", os.Getenv("POD_UID"), "the UID of this agent's Pod (default $POD_UID)")
	fs.DurationVar(&o.heartbeat, "heartbeat", 0, "shortest interval at which lastUpdated advances when nothing changed; 0: never. "+
		"Left unset: never when the agent knows its Pod (--pod-name), "+v3.DefaultHeartbeat.String()+" otherwise (nothing else tells a reader it is alive)")
}

// reconcilerHeartbeat maps --heartbeat to agent.Options.Heartbeat: unset is 0 (the reconciler decides
// from the Pod), an explicit 0 is none (negative there).
func (o options) reconcilerHeartbeat() time.Duration {
	switch {
	case !o.heartbeatSet:
		return 0
	case o.heartbeat == 0:
		return -1
	}
	return o.heartbeat
}

// readyz answers 200 when every check passes and 503 with the first failure otherwise. Readiness means
// the statuses this agent owns are current: readers (the CLI) take the Pod's Ready condition for that.
func readyz(checks ...func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for _, check := range checks {
			if err := check(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	})
}
