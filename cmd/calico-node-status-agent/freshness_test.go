package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/agent"
)

// TestPodFlagsAndHeartbeat: the Pod identity comes from the downward API's environment unless a flag
// says otherwise; --heartbeat left unset lets the reconciler decide (none in a Pod), an explicit 0 is
// none, and a half identity or a negative heartbeat is refused at start.
func TestPodFlagsAndHeartbeat(t *testing.T) {
	t.Setenv("POD_NAME", "agent-abc")
	t.Setenv("POD_NAMESPACE", "calico-node-status")
	t.Setenv("POD_UID", "uid-1")
	parse := func(args ...string) options { t.Helper(); return parseFlags(t, args...) }
	o := parse()
	if o.pod != (agent.PodRef{Name: "agent-abc", Namespace: "calico-node-status", UID: "uid-1"}) || o.reconcilerHeartbeat() != 0 {
		t.Errorf("from the environment: pod %+v, heartbeat %v; want the Pod and 0 (the reconciler's default)", o.pod, o.reconcilerHeartbeat())
	}
	if err := o.validate(); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
	if got := parse("--heartbeat=0").reconcilerHeartbeat(); got >= 0 {
		t.Errorf("--heartbeat=0: reconciler heartbeat %v, want negative (none)", got)
	}
	if got := parse("--heartbeat=20m").reconcilerHeartbeat(); got != 20*time.Minute {
		t.Errorf("--heartbeat=20m: %v", got)
	}
	if err := parse("--heartbeat=-1s").validate(); err == nil || !strings.Contains(err.Error(), "--heartbeat") {
		t.Errorf("--heartbeat=-1s: %v, want an error naming the flag", err)
	}
	if err := parse("--pod-namespace=").validate(); err == nil || !strings.Contains(err.Error(), "--pod-name") {
		t.Errorf("a Pod name without a namespace: %v, want an error naming the flags", err)
	}
}

func TestReadyzServesTheFirstFailingCheck(t *testing.T) {
	var writeErr error
	h := readyz(func() error { return nil }, func() error { return writeErr })
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get(); code != http.StatusOK || body != "ok" {
		t.Errorf("all checks pass: %d %q", code, body)
	}
	writeErr = errors.New("the status of caliconodestatus x has not been written for 2m0s")
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "caliconodestatus x") {
		t.Errorf("a failing check: %d %q, want 503 with its error", code, body)
	}
}
