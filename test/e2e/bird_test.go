package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// birdLab is a running lab with what the tests do to its daemons: birdc, kill, restart (with the
// binaries lab.json names, whatever the flavour).
type birdLab struct {
	*lab.Lab
}

func newBirdLab(t testing.TB, l *lab.Lab) *birdLab {
	t.Helper()
	if l.Daemon == "" || l.Daemon6 == "" {
		t.Fatalf("lab %s: lab.json names no daemon binaries", l.Name)
	}
	return &birdLab{Lab: l}
}

// k8sNode is the Kubernetes node name of a lab node: the lab's name in front, so labs of both BIRD
// versions can run against one control plane at once (their nodes are all called node1..N).
func (l *birdLab) k8sNode(i int) string { return l.Name + "-" + l.Nodes[i].Name }

// daemon is one BIRD process of a node: its socket, config, pid file, binary and client.
type daemon struct {
	socket, conf, pidFile, bin, birdc string
	v6                                bool // BIRD 1.6's bird6
}

// daemons of node i: bird (+ bird6 for BIRD 1.6).
func (l *birdLab) daemons(i int) []daemon {
	dir := filepath.Join(l.RunDir, l.Nodes[i].Name)
	if l.Bird == 1 {
		return []daemon{
			{socket: l.Nodes[i].Socket4, conf: filepath.Join(dir, "bird.conf"), pidFile: filepath.Join(dir, "bird.pid"), bin: l.Daemon, birdc: l.Birdc},
			{socket: l.Nodes[i].Socket6, conf: filepath.Join(dir, "bird6.conf"), pidFile: filepath.Join(dir, "bird6.pid"), bin: l.Daemon6, birdc: l.Birdc6, v6: true},
		}
	}
	return []daemon{{socket: l.Nodes[i].Socket4, conf: filepath.Join(dir, "bird.conf"), pidFile: filepath.Join(dir, "bird.pid"), bin: l.Daemon, birdc: l.Birdc}}
}

// birdc runs a command through the BIRD client on socket (birdc6 for a BIRD 1.6 IPv6 socket).
func (l *birdLab) birdc(t testing.TB, i int, v6 bool, args ...string) string {
	t.Helper()
	client, sock := l.Birdc, l.Nodes[i].Socket4
	if v6 {
		client, sock = l.Birdc6, l.Nodes[i].Socket6
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, client, append([]string{"-s", sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s -s %s %s: %v\n%s", client, sock, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// protoSocketV6 says on which socket a protocol of the given family lives: BIRD 1.6 has one daemon per
// family, BIRD 2 one for both.
func (l *birdLab) protoSocketV6(v6 bool) bool { return v6 && l.Bird == 1 }

// kill kills node i's BIRD daemons with SIGKILL (no clean shutdown: the socket file stays behind, as
// after a crash) and waits until they are gone.
func (l *birdLab) kill(t testing.TB, i int) {
	t.Helper()
	for _, d := range l.daemons(i) {
		b, err := os.ReadFile(d.pidFile)
		if err != nil {
			t.Fatalf("pid file of %s: %v", d.conf, err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("pid file %s: %v", d.pidFile, err)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill BIRD %d (%s): %v", pid, d.conf, err)
		}
		testenv.Eventually(t, 10*time.Second, fmt.Sprintf("BIRD %d gone", pid), func() (bool, string) {
			err := syscall.Kill(pid, 0)
			return err != nil, fmt.Sprint(err)
		})
	}
}

// start starts node i's BIRD daemons again with the lab's configuration, socket and pid file, the way
// lab.sh does, and waits until they answer.
func (l *birdLab) start(t testing.TB, i int) {
	t.Helper()
	for _, d := range l.daemons(i) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.Nodes[i].Netns, d.bin, "-c", d.conf, "-s", d.socket, "-P", d.pidFile).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("start %s -c %s in %s: %v\n%s", d.bin, d.conf, l.Nodes[i].Netns, err, out)
		}
		testenv.Eventually(t, 10*time.Second, "BIRD answers on "+d.socket, func() (bool, string) {
			out, err := exec.Command(d.birdc, "-s", d.socket, "show", "status").CombinedOutput()
			return err == nil && strings.Contains(string(out), "Daemon is up and running"), string(out)
		})
	}
}

// upRE are the sessions that are Established in a healthy lab (lab.sh's up_re).
var upRE = regexp.MustCompile(`^(Mesh_|Global_|Node_10_99_0_251_port_1790|Node_fd00_99__fb_port_1790|Node_fe80__99_fe)`)

// waitHealthy waits until every node's mesh, ToR and gobgpd sessions are Established again (after a
// fault a test caused), so the next test starts from the lab's normal state.
func (l *birdLab) waitHealthy(t testing.TB) {
	t.Helper()
	testenv.Eventually(t, 120*time.Second, "every lab session Established", func() (bool, string) {
		for i := range l.Nodes {
			for _, v6 := range []bool{false, true} {
				if v6 && l.Bird == 2 {
					continue
				}
				client, sock := l.Birdc, l.Nodes[i].Socket4
				if v6 {
					client, sock = l.Birdc6, l.Nodes[i].Socket6
				}
				out, err := exec.Command(client, "-s", sock, "show", "protocols").CombinedOutput()
				if err != nil {
					return false, fmt.Sprintf("%s: %v %s", sock, err, out)
				}
				for _, p := range parseProtocolsTable(string(out)) {
					if upRE.MatchString(p.name) && p.info != "Established" {
						return false, fmt.Sprintf("%s %s: %s %s", l.Nodes[i].Name, p.name, p.state, p.info)
					}
				}
			}
		}
		return true, ""
	})
}

// protoRow is a row of birdc's `show protocols` table.
type protoRow struct{ name, proto, state, info string }

// parseProtocolsTable reads `show protocols` as both versions print it: name proto table state since
// (one or two words) info.
func parseProtocolsTable(out string) []protoRow {
	var rows []protoRow
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "name" || f[0] == "Name" || f[0] == "BIRD" {
			continue
		}
		r := protoRow{name: f[0], proto: f[1], state: f[3]}
		rest := f[4:]
		// since: "2026-11-24 10:41:06" (iso long: two words) or "10:41:06" (one)
		if len(rest) > 1 && strings.Count(rest[0], "-") == 2 {
			rest = rest[2:]
		} else {
			rest = rest[1:]
		}
		if len(rest) > 0 {
			r.info = rest[0]
		}
		rows = append(rows, r)
	}
	return rows
}

// birdcPeer is a BGP session as `birdc show protocols all` prints it.
type birdcPeer struct {
	name  string
	ip    netip.Addr // without zone
	state string     // BIRD's BGP state word
}

// birdcPeers parses the BGP protocols of `show protocols all`: the protocol line, then "BGP state:" and
// "Neighbor address:" (the same words in BIRD 1.6 and 2.x).
func birdcPeers(out string) ([]birdcPeer, error) {
	var peers []birdcPeer
	var cur *birdcPeer
	sc := bufio.NewScanner(strings.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			cur = nil
			if f := strings.Fields(line); len(f) > 2 && f[1] == "BGP" {
				peers = append(peers, birdcPeer{name: f[0]})
				cur = &peers[len(peers)-1]
			}
			continue
		}
		if cur == nil {
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "BGP state":
			cur.state = val
		case "Neighbor address":
			a, err := netip.ParseAddr(val)
			if err != nil {
				return nil, fmt.Errorf("show protocols all line %d: neighbor address %q: %w", n, val, err)
			}
			cur.ip = a.WithZone("")
		}
	}
	return peers, sc.Err()
}

// contractState is the contract's state for BIRD's BGP state word (the agent's documented mapping:
// RFC states as they are; BIRD's Passive -> Active, Down -> Idle).
func contractState(birdState string) v3.BGPSessionState {
	switch strings.ToLower(birdState) {
	case "passive":
		return v3.BGPSessionStateActive
	case "down":
		return v3.BGPSessionStateIdle
	}
	for _, s := range []v3.BGPSessionState{v3.BGPSessionStateIdle, v3.BGPSessionStateConnect, v3.BGPSessionStateActive,
		v3.BGPSessionStateOpenSent, v3.BGPSessionStateOpenConfirm, v3.BGPSessionStateEstablished, v3.BGPSessionStateClose} {
		if strings.EqualFold(string(s), birdState) {
			return s
		}
	}
	return ""
}

// peerTypeOf is Calico's peer type from the protocol name.
func peerTypeOf(name string) v3.BGPPeerType {
	switch {
	case strings.HasPrefix(name, "Mesh_"):
		return v3.BGPPeerTypeNodeMesh
	case strings.HasPrefix(name, "Node_"):
		return v3.BGPPeerTypeNodePeer
	case strings.HasPrefix(name, "Global_"):
		return v3.BGPPeerTypeGlobalPeer
	}
	return ""
}

// routeCountRE matches `show route count`: "24 of 24 routes for 23 networks" (BIRD 2 adds " in table X").
var routeCountRE = regexp.MustCompile(`(?m)^(\d+) of (\d+) routes for \d+ networks(?: in table (\S+))?$`)

// birdcRouteCounts is the number of routes per family BIRD holds on node i, from `show route count`.
func (l *birdLab) birdcRouteCounts(t testing.TB, i int) (v4, v6 int) {
	t.Helper()
	count := func(out string, table string) int {
		for _, m := range routeCountRE.FindAllStringSubmatch(out, -1) {
			if m[3] == table {
				n, _ := strconv.Atoi(m[2])
				return n
			}
		}
		t.Fatalf("no route count for table %q in:\n%s", table, out)
		return 0
	}
	if l.Bird == 1 {
		return count(l.birdc(t, i, false, "show", "route", "count"), ""), count(l.birdc(t, i, true, "show", "route", "count"), "")
	}
	out := l.birdc(t, i, false, "show", "route", "count")
	return count(out, "master4"), count(out, "master6")
}

// birdcPrimary returns the gateway and interface of BIRD's selected (`*`) route for prefix on node i
// when it comes from protocol, as `show route <prefix>` prints it (1.6: "via G on I" on the route's line;
// 2.x: on the next line). An IPv6 BGP route's gateway may be the peer's link-local address.
func (l *birdLab) birdcPrimary(t testing.TB, i int, prefix, protocol string) (gw, iface string, ok bool, out string) {
	t.Helper()
	v6 := netip.MustParsePrefix(prefix).Addr().Is6()
	out = l.birdc(t, i, l.protoSocketV6(v6), "show", "route", prefix)
	lines := strings.Split(out, "\n")
	for j, line := range lines {
		if !strings.Contains(line, "["+protocol+" ") || !strings.Contains(line, "] * (") {
			continue
		}
		hop := line
		if l.Bird == 2 && j+1 < len(lines) {
			hop = lines[j+1]
		}
		if m := viaRE.FindStringSubmatch(hop); m != nil {
			return m[1], m[2], true, out
		}
	}
	return "", "", false, out
}

var viaRE = regexp.MustCompile(`via (\S+) on (\S+)`)

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
