package status

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// Replies captured from real BIRD 1.6.8 and 2.0.12 daemons and Calico's BIRD fork in the lab
// (internal/bird/testdata/captures, README there), replayed over a Unix socket to the bird package's
// Collector, the agent's own path from socket to snapshot, then mapped. This checks the mapping on what
// BIRD really prints and that every build gives the same status for the same lab state.
//
// The capture goldens follow the captures: after `make capture`, run
//
//	go test ./internal/status -run 'TestCaptures|TestMinilab' -update
//
// and review the diff (times and the failing peer's Connect/Active move; nothing else should).

const (
	capturesDir = "../bird/testdata/captures"
	// minilabDir holds the bird package's own two-daemon captures: link-local neighbors with their
	// interface, a custom port, BIRD's default time format, 1.6's multipath keyword (README there).
	minilabDir = "../bird/testdata/minilab"
)

// labState is one lab state of the captures: the file name suffix per command ("" is the normal state).
// A command without a file for the state is answered from the normal state's file.
type labState struct {
	name   string
	suffix string
	// routes is the routes command the Collector sends.
	routes string
}

var labStates = []labState{
	{name: "normal", routes: "show route"},
	{name: "normal-route-all", routes: "show route all"},
	{name: "peer-down", suffix: "-peer-down", routes: "show route all"},
	{name: "timeformat-default", suffix: "-timeformat-default", routes: "show route all"},
}

// birdVersions are the captured BIRD builds: Debian's 1.6.8 and 2.0.12, and Calico's fork of 1.6.8 as
// calico-node runs it (captured in the lab's calico flavour; README in the captures directory).
var birdVersions = []string{"1.6.8", "2.0.12", calicoFork}

const calicoFork = "v0.3.3+birdv1.6.8"

// twoDaemons says whether a BIRD version runs one daemon per family (bird.ctl and bird6.ctl): BIRD 1.x,
// Calico's fork included.
func twoDaemons(version string) bool {
	return strings.HasPrefix(version, "1.") || strings.Contains(version, "+birdv1.")
}

// replayFiles maps each command the Collector may send to the capture answering it, for one daemon:
// prefix is "v4-"/"v6-" for BIRD 1.6's two daemons, "" for BIRD 2.
func replayFiles(t *testing.T, root, version, prefix string, st labState) (greeting string, replies map[string]string) {
	t.Helper()
	dir := filepath.Join(root, "bird-"+version)
	pick := func(base string) string {
		for _, name := range []string{prefix + base + st.suffix + ".txt", prefix + base + ".txt"} {
			if p := filepath.Join(dir, name); fileExists(p) {
				return p
			}
		}
		t.Fatalf("no capture %s%s.txt in %s", prefix, base, dir)
		return ""
	}
	replies = map[string]string{
		"show status":        pick("show-status"),
		"show protocols all": pick("show-protocols-all"),
		"show route":         pick("show-route"),
		"show route all":     pick("show-route-all"),
	}
	// The mini-lab kept one greeting for BIRD 1.6's two daemons (same version, same line).
	for _, g := range []string{prefix + "greeting.txt", "v4-greeting.txt"} {
		if p := filepath.Join(dir, g); fileExists(p) {
			return p, replies
		}
	}
	t.Fatalf("no greeting capture in %s", dir)
	return "", nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// replay serves captured replies on a Unix socket as BIRD does: the greeting on connect, then one reply
// per command line. It stops when the test ends.
func replay(t *testing.T, version, prefix string, st labState) string {
	t.Helper()
	return replayFrom(t, capturesDir, version, prefix, st, "")
}

// replayCut is replay, except that the reply to the command cut stops halfway and the daemon hangs up,
// as a BIRD killed mid-reply does.
func replayCut(t *testing.T, version, prefix string, st labState, cut string) string {
	t.Helper()
	return replayFrom(t, capturesDir, version, prefix, st, cut)
}

// replayFrom is replayCut from the captures under root.
func replayFrom(t *testing.T, root, version, prefix string, st labState, cut string) string {
	t.Helper()
	greeting, replies := replayFiles(t, root, version, prefix, st)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read capture: %v", err)
		}
		return b
	}
	greet := read(greeting)
	answers := map[string][]byte{}
	for cmd, p := range replies {
		answers[cmd] = read(p)
	}
	// Unix socket paths are limited to 108 bytes; t.TempDir() can be longer.
	dir, err := os.MkdirTemp("", "cns-collect")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bird.ctl")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen on %s: %v", path, err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		_ = os.RemoveAll(dir)
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				if _, err := c.Write(greet); err != nil {
					return
				}
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					cmd := strings.TrimSpace(sc.Text())
					a, ok := answers[cmd]
					if !ok {
						a = []byte("9001 syntax error\n")
					}
					if cmd == cut {
						_, _ = c.Write(a[:len(a)/2])
						return
					}
					if _, err := c.Write(a); err != nil {
						return
					}
				}
			}()
		}
	}()
	return path
}

// collectCaptured runs the bird Collector against replayed captures of one BIRD version and lab state.
func collectCaptured(t *testing.T, version string, st labState) bird.Snapshot {
	t.Helper()
	var c bird.Collector
	c.RoutesCommand = st.routes
	if twoDaemons(version) {
		c.V4Socket = replay(t, version, "v4-", st)
		c.V6Socket = replay(t, version, "v6-", st)
	} else {
		c.V4Socket = replay(t, version, "", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap := c.Collect(ctx, bird.Need{Status: true, Protocols: true, Routes: true})
	for _, d := range []*bird.DaemonSnapshot{&snap.V4, &snap.V6} {
		if err := errors.Join(d.StatusErr, d.ProtocolsErr, d.RoutesErr); err != nil {
			t.Fatalf("BIRD %s %s %s: collecting the captures failed: %v", version, st.name, d.Family, err)
		}
		if len(d.Warnings) > 0 {
			t.Errorf("BIRD %s %s %s: the parsers skipped captured lines: %+v", version, st.name, d.Family, d.Warnings)
		}
	}
	return snap
}

// TestMinilabGolden maps the bird package's mini-lab captures (two different daemons, not one lab state
// twice: no cross-version comparison) and checks what they add: zones, custom ports, weights.
func TestMinilabGolden(t *testing.T) {
	for _, v := range birdVersions {
		if !fileExists(filepath.Join(minilabDir, "bird-"+v)) {
			continue // the mini-lab has Debian's builds only
		}
		for _, routes := range []string{"show route", "show route all"} {
			name := "minilab_bird-" + v + "_" + strings.ReplaceAll(routes, " ", "-")
			t.Run(name, func(t *testing.T) {
				st := labState{name: "minilab", routes: routes}
				c := &bird.Collector{RoutesCommand: routes}
				if twoDaemons(v) {
					c.V4Socket = replayFrom(t, minilabDir, v, "v4-", st, "")
					c.V6Socket = replayFrom(t, minilabDir, v, "v6-", st, "")
				} else {
					c.V4Socket = replayFrom(t, minilabDir, v, "", st, "")
				}
				snap := collectCapturedWith(t, c)
				for _, d := range []*bird.DaemonSnapshot{&snap.V4, &snap.V6} {
					if err := errors.Join(d.StatusErr, d.ProtocolsErr, d.RoutesErr); err != nil {
						t.Fatalf("%s: %v", d.Family, err)
					}
				}
				got := Build(snap, allClasses, Options{})
				checkGolden(t, name, goldenYAML(t, got))
				var zoned, multipath, prohibit bool
				for _, p := range slices.Concat(got.BGP.PeersV4, got.BGP.PeersV6) {
					if p.Zone != "" {
						zoned = true
						if strings.Contains(p.PeerIP, "%") || !strings.HasPrefix(p.PeerIP, "fe80::") {
							t.Errorf("%s: link-local peer IP %q zone %q", p.Protocol, p.PeerIP, p.Zone)
						}
					}
				}
				for _, r := range slices.Concat(got.Routes.RoutesV4, got.Routes.RoutesV6) {
					multipath = multipath || len(r.NextHops) > 1
					prohibit = prohibit || r.Interface == "prohibit"
					if strings.Contains(r.Gateway, "%") {
						t.Errorf("%s: gateway %q with a zone", r.Destination, r.Gateway)
					}
				}
				if !zoned || !multipath || !prohibit {
					t.Errorf("mini-lab mapped without a zoned peer (%t), a multipath route (%t) or a prohibit route (%t)", zoned, multipath, prohibit)
				}
			})
		}
	}
}

// TestCapturesGolden maps each version's captures of each lab state and compares with a golden file.
func TestCapturesGolden(t *testing.T) {
	for _, v := range birdVersions {
		for _, st := range labStates {
			t.Run(v+"/"+st.name, func(t *testing.T) {
				snap := collectCaptured(t, v, st)
				got := Build(snap, allClasses, Options{})
				checkGolden(t, "capture_bird-"+v+"_"+st.name, goldenYAML(t, got))
				assertCapturedLab(t, got)
				for seed := range uint64(5) {
					if again := Build(shuffled(snap, rand.New(rand.NewPCG(seed, 1))), allClasses, Options{}); !reflect.DeepEqual(again, got) {
						t.Errorf("seed %d: the captured state in another order maps differently", seed)
					}
				}
			})
		}
	}
}

// assertCapturedLab checks what the lab README says node1 sees, independently of the golden files.
func assertCapturedLab(t *testing.T, s Sections) {
	t.Helper()
	for i, d := range []*v3.BGPDaemonStatus{s.Agent.BIRDV4, s.Agent.BIRDV6} {
		if d == nil || d.State != v3.BGPDaemonStateReady || d.Version == "" || d.RouterID == "" {
			t.Errorf("agent family %d: %+v, want Ready with version and router ID", i, d)
		}
	}
	byProto := map[string]v3.CalicoNodePeer{}
	for _, p := range append(append([]v3.CalicoNodePeer(nil), s.BGP.PeersV4...), s.BGP.PeersV6...) {
		byProto[p.Protocol] = p
		if strings.ContainsAny(p.PeerIP, "%_") || p.PeerIP == "" {
			t.Errorf("%s: peer IP %q", p.Protocol, p.PeerIP)
		}
	}
	want := map[string]struct {
		state v3.BGPSessionState
		typ   v3.BGPPeerType
		info  string // a substring
	}{
		"Global_10_99_0_254": {v3.BGPSessionStateEstablished, v3.BGPPeerTypeGlobalPeer, ""},
		"Global_fd00_99__fe": {v3.BGPSessionStateEstablished, v3.BGPPeerTypeGlobalPeer, ""},
		// gobgpd on port 1790: Calico names it Node_<ip>_port_<port>; the peer IP stays clean.
		"Node_10_99_0_251_port_1790": {v3.BGPSessionStateEstablished, v3.BGPPeerTypeNodePeer, ""},
		"Node_fd00_99__fb_port_1790": {v3.BGPSessionStateEstablished, v3.BGPPeerTypeNodePeer, ""},
		"Node_10_99_0_252":           {v3.BGPSessionStateIdle, v3.BGPPeerTypeNodePeer, "Down (disabled)"},
		"Node_fd00_99__fc":           {v3.BGPSessionStateIdle, v3.BGPPeerTypeNodePeer, "Down (disabled)"},
		"Node_10_99_0_253":           {"", v3.BGPPeerTypeNodePeer, "No route to host"},
		"Node_fd00_99__fd":           {"", v3.BGPPeerTypeNodePeer, "No route to host"},
		"Mesh_10_99_0_2":             {v3.BGPSessionStateEstablished, v3.BGPPeerTypeNodeMesh, ""},
	}
	for name, w := range want {
		p, ok := byProto[name]
		if !ok {
			t.Errorf("peer %s missing", name)
			continue
		}
		if ip, _, found := strings.Cut(name, "_port_"); found && p.PeerIP != map[string]string{
			"Node_10_99_0_251": "10.99.0.251", "Node_fd00_99__fb": "fd00:99::fb"}[ip] {
			t.Errorf("%s: peer IP %q", name, p.PeerIP)
		}
		if w.state == "" {
			// Connect or Active, depending on the moment.
			if p.State != v3.BGPSessionStateConnect && p.State != v3.BGPSessionStateActive {
				t.Errorf("%s: state %q, want Connect or Active", name, p.State)
			}
		} else if p.State != w.state {
			t.Errorf("%s: state %q, want %q", name, p.State, w.state)
		}
		if p.Type != w.typ || !strings.Contains(p.Info, w.info) || (w.info == "" && p.Info != "") {
			t.Errorf("%s: type %q info %q, want %q and info containing %q", name, p.Type, p.Info, w.typ, w.info)
		}
	}
	kinds := map[string]bool{}
	for _, r := range append(append([]v3.CalicoNodeRoute(nil), s.Routes.RoutesV4...), s.Routes.RoutesV6...) {
		kinds[string(r.LearnedFrom.SourceType)+"/"+r.Interface] = true
		if len(r.NextHops) > 1 {
			kinds["multipath"] = true
		}
		if r.Type == v3.RouteTypeRIB {
			kinds["RIB"] = true
		}
		if (r.LearnedFrom.SourceType == v3.RouteSourceTypeNodeMesh || r.LearnedFrom.SourceType == v3.RouteSourceTypeBGPPeer) && r.LearnedFrom.PeerIP == "" {
			t.Errorf("BGP route %s without peer IP", r.Destination)
		}
		if r.LearnedFrom.SourceType == "" {
			t.Errorf("route %s without source type", r.Destination)
		}
	}
	for _, k := range []string{"Static/blackhole", "Static/unreachable", "Static/prohibit", "Direct/eth0", "Kernel/eth0", "NodeMesh/eth0", "BGPPeer/eth0", "multipath", "RIB"} {
		if !kinds[k] {
			t.Errorf("no route of kind %s in the mapped captures", k)
		}
	}
	if s.Routes.Truncated || s.Routes.TotalV4 != len(s.Routes.RoutesV4) || s.Routes.TotalV6 != len(s.Routes.RoutesV6) {
		t.Errorf("routes: truncated %t, totals %d/%d for %d/%d listed", s.Routes.Truncated,
			s.Routes.TotalV4, s.Routes.TotalV6, len(s.Routes.RoutesV4), len(s.Routes.RoutesV6))
	}
}

// versionFree clears what legitimately differs between BIRD versions for the same lab state: the
// version string and the times. It also folds what differs between two captures of the same state by
// timing alone, not by version: a peer that cannot connect cycles between Connect (TCP connect under
// way) and Active (waiting to retry); which one a capture catches depends on the moment.
func versionFree(s Sections) Sections {
	for _, d := range []*v3.BGPDaemonStatus{s.Agent.BIRDV4, s.Agent.BIRDV6} {
		if d != nil {
			d.Version, d.LastBootTime, d.LastReconfigurationTime = "", "", ""
		}
	}
	for _, ps := range [][]v3.CalicoNodePeer{s.BGP.PeersV4, s.BGP.PeersV6} {
		for i := range ps {
			ps[i].Since = ""
			if ps[i].State == v3.BGPSessionStateConnect || ps[i].State == v3.BGPSessionStateActive {
				ps[i].State = "Connect|Active"
			}
		}
	}
	return s
}

// TestCapturesSameAcrossVersions: BIRD 1.6.8, 2.0.12 and Calico's fork captured in the same lab state map
// to the same status, up to version strings and times.
func TestCapturesSameAcrossVersions(t *testing.T) {
	for _, other := range birdVersions[1:] {
		for _, st := range labStates {
			t.Run(other+"/"+st.name, func(t *testing.T) {
				a := versionFree(Build(collectCaptured(t, birdVersions[0], st), allClasses, Options{}))
				b := versionFree(Build(collectCaptured(t, other, st), allClasses, Options{}))
				if !reflect.DeepEqual(a, b) {
					t.Errorf("BIRD %s and %s map the same lab state differently (- %s, + %s):\n%s",
						birdVersions[0], other, birdVersions[0], other,
						lineDiff(string(goldenYAML(t, a)), string(goldenYAML(t, b))))
				}
			})
		}
	}
}

// TestCapturesFaults: real replies with one family's daemon failing in the ways the Collector sees: its
// socket missing, its route reply cut off, no socket configured. The other family is intact; the failing
// one says why.
func TestCapturesFaults(t *testing.T) {
	normal := labStates[0]
	healthy := Build(collectCapturedWith(t, &bird.Collector{
		V4Socket: replay(t, "1.6.8", "v4-", normal), V6Socket: replay(t, "1.6.8", "v6-", normal)}), allClasses, Options{})
	tests := []struct {
		name       string
		v6         func(t *testing.T) string
		wantReason string // "" means no issue and no IPv6 data at all
		wantV6Data bool   // IPv6 status and peers still reported
	}{
		{"socket missing", func(t *testing.T) string { return filepath.Join(t.TempDir(), "bird6.ctl") }, v3.ReasonDaemonUnreachable, false},
		{"route reply cut off", func(t *testing.T) string { return replayCut(t, "1.6.8", "v6-", normal, "show route") }, v3.ReasonDaemonUnreachable, true},
		{"no socket configured", func(t *testing.T) string { return "" }, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Build(collectCapturedWith(t, &bird.Collector{
				V4Socket: replay(t, "1.6.8", "v4-", normal), V6Socket: tc.v6(t)}), allClasses, Options{})
			if !reflect.DeepEqual(got.Agent.BIRDV4, healthy.Agent.BIRDV4) || !reflect.DeepEqual(got.BGP.PeersV4, healthy.BGP.PeersV4) ||
				!reflect.DeepEqual(got.Routes.RoutesV4, healthy.Routes.RoutesV4) || got.Routes.TotalV4 != healthy.Routes.TotalV4 {
				t.Errorf("IPv4 data changed by an IPv6 failure")
			}
			if got.Routes.RoutesV6 != nil || got.Routes.TotalV6 != 0 {
				t.Errorf("IPv6 routes reported from a failed read: %d", len(got.Routes.RoutesV6))
			}
			if hasV6 := got.BGP.PeersV6 != nil && got.Agent.BIRDV6 != nil && got.Agent.BIRDV6.State == v3.BGPDaemonStateReady; hasV6 != tc.wantV6Data {
				t.Errorf("IPv6 status and peers reported %t, want %t", hasV6, tc.wantV6Data)
			}
			issues := slices.Concat(got.Agent.Issues, got.BGP.Issues, got.Routes.Issues)
			if tc.wantReason == "" {
				if len(issues) != 0 || got.Agent.BIRDV6 != nil {
					t.Errorf("unconfigured IPv6: issues %+v, birdV6 %+v; want neither", issues, got.Agent.BIRDV6)
				}
				return
			}
			if got.Agent.BIRDV6 == nil || (!tc.wantV6Data && got.Agent.BIRDV6.State != v3.BGPDaemonStateNotReady) {
				t.Errorf("birdV6 %+v, want it reported (NotReady when unreachable)", got.Agent.BIRDV6)
			}
			var routeIssue bool
			for _, is := range issues {
				if is.Family != v3.IPFamilyV6 || is.Reason != tc.wantReason || is.Message == "" {
					t.Errorf("issue %+v, want IPv6 %s with a message", is, tc.wantReason)
				}
				routeIssue = routeIssue || slices.Contains(got.Routes.Issues, is)
			}
			if !routeIssue {
				t.Errorf("no issue in the routes section: %+v", issues)
			}
		})
	}
}

func collectCapturedWith(t *testing.T, c *bird.Collector) bird.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Collect(ctx, bird.Need{Status: true, Protocols: true, Routes: true})
}
