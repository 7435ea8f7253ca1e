package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// SyncBuffer collects what a process or goroutine writes while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free loopback port: %v", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns a loopback address ("127.0.0.1:port") with a port that was free a moment ago, for a
// process about to bind it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// HTTPGet returns the body of a GET of url; a status other than 200 is an error (with the body returned).
func HTTPGet(url string) (string, error) {
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// CheckLabNodeStatus checks a status written from a lab node's BIRD 1.6 (bird and bird6): every section
// there, both daemons Ready with the node's router ID, established sessions and routes in both families.
func CheckLabNodeStatus(t testing.TB, got *v3.CalicoNodeStatus, routerID string) {
	t.Helper()
	st := got.Status
	if st.Agent == nil || st.Agent.BIRDV4 == nil || st.Agent.BIRDV6 == nil || st.BGP == nil || st.Routes == nil {
		t.Fatalf("status misses a section: %+v", st)
	}
	if st.Agent.BIRDV4.State != v3.BGPDaemonStateReady || st.Agent.BIRDV6.State != v3.BGPDaemonStateReady {
		t.Errorf("daemon states v4 %q v6 %q, want Ready", st.Agent.BIRDV4.State, st.Agent.BIRDV6.State)
	}
	if st.Agent.BIRDV4.RouterID != routerID {
		t.Errorf("router ID %q, want the lab node's %s", st.Agent.BIRDV4.RouterID, routerID)
	}
	if st.BGP.NumberEstablishedV4 < 1 || st.BGP.NumberEstablishedV6 < 1 {
		t.Errorf("established sessions v4 %d v6 %d, want some", st.BGP.NumberEstablishedV4, st.BGP.NumberEstablishedV6)
	}
	if len(st.Routes.RoutesV4) == 0 || len(st.Routes.RoutesV6) == 0 {
		t.Errorf("routes v4 %d v6 %d, want some", len(st.Routes.RoutesV4), len(st.Routes.RoutesV6))
	}
}
