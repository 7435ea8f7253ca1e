package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

const captures = "../../../internal/bird/testdata/captures/bird-1.6.8"

func capture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(captures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeBird serves BIRD 1.6.8's captured replies on a Unix socket: the greeting on connect, then one
// reply per command line, any `show protocols all <name>` answered with the Mesh_10_99_0_2 capture.
func fakeBird(t *testing.T) string {
	t.Helper()
	replies := map[string][]byte{
		"show status":    capture(t, "v4-show-status.txt"),
		"show protocols": capture(t, "v4-show-protocols.txt"),
		"show route":     capture(t, "v4-show-route.txt"),
	}
	detail := capture(t, "v4-show-protocols-all-mesh.txt")
	greeting := capture(t, "v4-greeting.txt")
	path := filepath.Join(t.TempDir(), "bird.ctl")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := c.Write(greeting); err != nil {
					return
				}
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					r, ok := replies[sc.Text()]
					if !ok && strings.HasPrefix(sc.Text(), "show protocols all ") {
						r, ok = detail, true
					}
					if !ok {
						r = []byte("9001 syntax error\n")
					}
					if _, err := c.Write(r); err != nil {
						return
					}
				}
			}()
		}
	}()
	return path
}

func TestPopulators(t *testing.T) {
	sock := fakeBird(t)
	bgpRows := 0
	for _, line := range strings.Split(string(capture(t, "v4-show-protocols.txt")), "\n") {
		if f := strings.Fields(strings.TrimPrefix(line, "1002-")); len(f) > 1 && f[1] == "BGP" {
			bgpRows++
		}
	}
	if bgpRows < 3 {
		t.Fatalf("capture has %d BGP rows; the test needs several", bgpRows)
	}

	for _, c := range []struct {
		name          string
		class         v3.NodeStatusClassType
		socket        string
		conns, cmds   int64
		check         func(t *testing.T, st *v3.CalicoNodeStatus)
		wantErrSubstr string
	}{
		{name: "agent", class: v3.NodeStatusClassTypeAgent, socket: sock, conns: 1, cmds: 1, check: func(t *testing.T, st *v3.CalicoNodeStatus) {
			d := st.Status.Agent.BIRDV4
			if d.State != v3.BGPDaemonStateReady || d.Version != "1.6.8" || d.RouterID != "10.99.0.1" || d.LastBootTime == "" {
				t.Errorf("agent = %+v", *d)
			}
		}},
		{name: "agent, socket absent: NotReady, no error", class: v3.NodeStatusClassTypeAgent, socket: sock + ".absent", check: func(t *testing.T, st *v3.CalicoNodeStatus) {
			if d := st.Status.Agent.BIRDV4; d.State != v3.BGPDaemonStateNotReady {
				t.Errorf("agent = %+v", *d)
			}
		}},
		{name: "bgp: one request per peer on one connection", class: v3.NodeStatusClassTypeBGP, socket: sock, conns: 1, cmds: 1 + int64(bgpRows), check: func(t *testing.T, st *v3.CalicoNodeStatus) {
			b := st.Status.BGP
			if len(b.PeersV4) != bgpRows || b.NumberEstablishedV4+b.NumberNotEstablishedV4 != bgpRows {
				t.Errorf("peers = %d (%d + %d), want %d", len(b.PeersV4), b.NumberEstablishedV4, b.NumberNotEstablishedV4, bgpRows)
			}
			for _, p := range b.PeersV4 {
				// Every detail request got the Mesh_10_99_0_2 capture: its neighbor and state must land in each.
				if p.PeerIP != "10.99.0.2" || p.State != v3.BGPSessionStateEstablished || p.Type == "" {
					t.Errorf("peer = %+v", p)
				}
			}
		}},
		{name: "bgp, socket absent: empty section", class: v3.NodeStatusClassTypeBGP, socket: sock + ".absent", check: func(t *testing.T, st *v3.CalicoNodeStatus) {
			if st.Status.BGP == nil || len(st.Status.BGP.PeersV4) != 0 {
				t.Errorf("bgp = %+v", st.Status.BGP)
			}
		}},
		{name: "routes", class: v3.NodeStatusClassTypeRoutes, socket: sock, conns: 1, cmds: 1, check: func(t *testing.T, st *v3.CalicoNodeStatus) {
			rs := st.Status.Routes.RoutesV4
			if len(rs) == 0 {
				t.Fatal("no routes")
			}
			var mesh, rib bool
			for _, r := range rs {
				if r.LearnedFrom.SourceType == "" || r.Destination == "" {
					t.Errorf("route without source or destination: %+v", r)
				}
				if r.Destination == "10.99.66.0/26" && r.LearnedFrom.SourceType == v3.RouteSourceTypeNodeMesh && r.LearnedFrom.PeerIP == "10.99.0.2" && r.Type == v3.RouteTypeFIB {
					mesh = true
				}
				if r.Destination == "10.99.200.0/24" && r.Type == v3.RouteTypeRIB && r.LearnedFrom.SourceType == v3.RouteSourceTypeBGPPeer {
					rib = true
				}
				if r.Destination == "10.99.65.128/26" {
					t.Errorf("the prohibited route is not one the original can parse, got %+v", r)
				}
			}
			if !mesh || !rib {
				t.Errorf("mesh route found %v, non-selected BGP route found %v", mesh, rib)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cnt counters
			b := &birdClient{sockets: map[family]string{v4: c.socket}, timeout: 2 * time.Second, c: &cnt}
			st := &v3.CalicoNodeStatus{}
			if err := b.populate(v4, c.class, st); err != nil {
				t.Fatalf("populate: %v", err)
			}
			if got := cnt.Conns.Load(); got != c.conns {
				t.Errorf("connections = %d, want %d", got, c.conns)
			}
			if got := cnt.Commands.Load(); got != c.cmds {
				t.Errorf("commands = %d, want %d", got, c.cmds)
			}
			c.check(t, st)
		})
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1002-static1  Static", "static1  Static"},
		{" kernel1  Kernel", "kernel1  Kernel"},
		{"1011-Router ID is 10.99.0.1", "Router ID is 10.99.0.1"},
		{"                   via 10.99.0.254 on eth0", "                  via 10.99.0.254 on eth0"},
	} {
		if got := text(c.in); got != c.want {
			t.Errorf("text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
