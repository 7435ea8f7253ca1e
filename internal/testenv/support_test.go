package testenv

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

func TestSyncBufferKeepsConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); fmt.Fprintf(&b, "line %d\n", i) }()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 50 {
		t.Fatalf("%d lines, want 50:\n%s", n, b.String())
	}
}

func TestFreePortCanBeListenedOn(t *testing.T) {
	p := FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", p, err)
	}
	_ = ln.Close()
	a := FreeAddr(t)
	ln, err = net.Listen("tcp", a)
	if err != nil || !strings.HasPrefix(a, "127.0.0.1:") {
		t.Fatalf("listen on the free address %q: %v", a, err)
	}
	_ = ln.Close()
}

func TestHTTPGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "fine")
	}))
	defer srv.Close()
	if body, err := HTTPGet(srv.URL + "/ok"); err != nil || body != "fine" {
		t.Errorf("GET /ok = %q, %v", body, err)
	}
	if body, err := HTTPGet(srv.URL + "/bad"); err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(body, "broken") {
		t.Errorf("GET /bad = %q, %v; want the body and an error naming the status", body, err)
	}
}

// recordingTB records failures instead of failing the test that runs it.
type recordingTB struct {
	testing.TB
	failures []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func TestCheckLabNodeStatus(t *testing.T) {
	ready := func(id string) *v3.BGPDaemonStatus {
		return &v3.BGPDaemonStatus{State: v3.BGPDaemonStateReady, RouterID: id}
	}
	good := &v3.CalicoNodeStatus{Status: v3.CalicoNodeStatusStatus{
		Agent:  &v3.CalicoNodeAgentStatus{BIRDV4: ready("10.0.0.1"), BIRDV6: ready("10.0.0.1")},
		BGP:    &v3.CalicoNodeBGPStatus{NumberEstablishedV4: 2, NumberEstablishedV6: 2},
		Routes: &v3.CalicoNodeBGPRouteStatus{RoutesV4: []v3.CalicoNodeRoute{{}}, RoutesV6: []v3.CalicoNodeRoute{{}}},
	}}
	r := &recordingTB{TB: t}
	CheckLabNodeStatus(r, good, "10.0.0.1")
	if len(r.failures) != 0 {
		t.Fatalf("a good status failed: %v", r.failures)
	}
	r = &recordingTB{TB: t}
	CheckLabNodeStatus(r, good, "10.0.0.2")
	if len(r.failures) != 1 || !strings.Contains(r.failures[0], "router ID") {
		t.Fatalf("another node's router ID: failures %v, want one naming the router ID", r.failures)
	}
}
