package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
)

// calicoConnectRetry is confd's `connect retry time` (bird.cfg.template): how often Calico's BIRD retries
// a peer that does not answer.
const calicoConnectRetry = 5

// maxDeadPeers bounds --dead-peers: the unanswered addresses are 10.99.0.240.. and fd00:99::f0.., below
// the lab's own peers at .251-.254 and above its nodes (at most 200).
const maxDeadPeers = 10

// deadPeer is a BGP peer the retry bench adds to the measured node that nobody answers for.
type deadPeer struct {
	name string // Calico's protocol name: Node_<ip> or Node_<ip>_port_<port>
	addr netip.Addr
	port int // 0: BGP's 179
}

// deadPeersFor returns k peers per family for a node at me4/me6, half of them at addresses nobody has
// ("Socket: No route to host" once neighbour discovery gives up: a node that is gone), half at another lab
// node's address on a port nobody listens on ("Socket: Connection refused": a node whose BIRD is down).
// other4/other6 are that other node's addresses.
func deadPeersFor(k int, other4, other6 netip.Addr) (v4, v6 []deadPeer) {
	for i := 0; i < k; i++ {
		if i%2 == 0 {
			a4 := netip.AddrFrom4([4]byte{10, 99, 0, byte(240 + i/2)})
			a6 := netip.MustParseAddr(fmt.Sprintf("fd00:99::%x", 0xf0+i/2))
			v4 = append(v4, deadPeer{name: "Node_" + protoName(a4), addr: a4})
			v6 = append(v6, deadPeer{name: "Node_" + protoName(a6), addr: a6})
			continue
		}
		port := 1791 + i/2
		v4 = append(v4, deadPeer{name: fmt.Sprintf("Node_%s_port_%d", protoName(other4), port), addr: other4, port: port})
		v6 = append(v6, deadPeer{name: fmt.Sprintf("Node_%s_port_%d", protoName(other6), port), addr: other6, port: port})
	}
	return v4, v6
}

// protoName is an address as Calico puts it in a protocol name: . and : replaced by _.
func protoName(a netip.Addr) string {
	return strings.NewReplacer(".", "_", ":", "_").Replace(a.String())
}

// deadPeerConf is the BIRD configuration of peers, shaped like the lab's Node_ peers (Calico's
// node-specific peers: the lab's bgp_template, the node's source address) with confd's retry time. BIRD 2
// (birdMajor 2) needs the family's channel, as the lab gives its own peers.
func deadPeerConf(birdMajor int, peers []deadPeer, as int, source netip.Addr) string {
	var b strings.Builder
	for _, p := range peers {
		fmt.Fprintf(&b, "protocol bgp %s from bgp_template {\n  # added by test/bench --retry: a peer nobody answers for\n", p.name)
		if p.port != 0 {
			fmt.Fprintf(&b, "  neighbor %s port %d as %d;\n", p.addr, p.port, as)
		} else {
			fmt.Fprintf(&b, "  neighbor %s as %d;\n", p.addr, as)
		}
		fmt.Fprintf(&b, "  source address %s;\n  connect retry time %d;\n", source, calicoConnectRetry)
		if birdMajor == 2 {
			if p.addr.Is4() {
				b.WriteString("  ipv4 { gateway recursive; import all; export filter calico_export_to_bgp_peers; add paths on; };\n")
			} else {
				b.WriteString("  ipv6 { gateway recursive; import all; export filter calico_export_to_bgp_peers6; add paths on; };\n")
			}
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// removeProtocols returns conf without the `protocol <kind> <name> ... { ... }` blocks of the named
// protocols (braces counted, so BIRD 2's nested channel blocks go with them). Every name must be found.
func removeProtocols(conf string, names []string) (string, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	found := map[string]bool{}
	lines := strings.SplitAfter(conf, "\n")
	var out strings.Builder
	depth := 0
	skipping := false
	for _, line := range lines {
		if !skipping {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "protocol" && want[f[2]] {
				skipping, depth = true, 0
				found[f[2]] = true
			}
		}
		if !skipping {
			out.WriteString(line)
			continue
		}
		code, _, _ := strings.Cut(line, "#")
		depth += strings.Count(code, "{") - strings.Count(code, "}")
		if depth <= 0 && strings.Contains(code, "}") {
			skipping = false
		}
	}
	if skipping {
		return "", errors.New("remove protocols: a block has no closing brace")
	}
	var missing []string
	for _, n := range names {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("remove protocols: %v not in the configuration", missing)
	}
	return out.String(), nil
}

// daemonConf is one BIRD daemon of the measured node: its socket, its client and its configuration file.
type daemonConf struct {
	family int // 4 or 6; 0 for BIRD 2's one daemon for both
	socket string
	birdc  string
	path   string // the lab's configuration file
	orig   string // its content
}

// nodeDaemons reads the configuration of node's daemon(s) as the lab wrote it (lab.sh: bird.conf and,
// for BIRD 1.6, bird6.conf beside the sockets).
func nodeDaemons(l *lab.Lab, node lab.Node) ([]daemonConf, error) {
	dir := filepath.Dir(node.Socket4)
	ds := []daemonConf{{family: 4, socket: node.Socket4, birdc: l.Birdc, path: filepath.Join(dir, "bird.conf")}}
	if l.Bird == 2 {
		ds[0].family = 0
	} else {
		ds = append(ds, daemonConf{family: 6, socket: node.Socket6, birdc: l.Birdc6, path: filepath.Join(dir, "bird6.conf")})
	}
	for i := range ds {
		b, err := os.ReadFile(ds[i].path)
		if err != nil {
			return nil, fmt.Errorf("read %s's BIRD configuration: %w", node.Name, err)
		}
		ds[i].orig = string(b)
	}
	return ds, nil
}

// reconfigure writes conf next to the daemon's own file as name and tells BIRD to load it (`birdc
// configure "<file>"`): protocols whose configuration did not change keep running, added ones start,
// removed ones stop.
func (d daemonConf) reconfigure(ctx context.Context, name, conf string) error {
	path := filepath.Join(filepath.Dir(d.path), name)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return fmt.Errorf("write BIRD configuration %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, d.birdc, "-s", d.socket, "configure", `"`+path+`"`).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s -s %s configure %s: %w\n%s", d.birdc, d.socket, path, err, out)
	}
	// birdc exits 0 on a refused configuration too: read what BIRD said.
	if !strings.Contains(string(out), "Reconfigured") && !strings.Contains(string(out), "Reconfiguration in progress") {
		return fmt.Errorf("%s -s %s configure %s: BIRD did not take it:\n%s", d.birdc, d.socket, path, out)
	}
	return nil
}

// bgpProtocols reads node's BGP protocols from BIRD, by name.
func bgpProtocols(ctx context.Context, node lab.Node) (map[string]bird.Protocol, error) {
	c := &bird.Collector{V4Socket: node.Socket4, V6Socket: node.Socket6, Timeout: 10 * time.Second}
	snap := c.Collect(ctx, bird.Need{Protocols: true})
	if err := errors.Join(snap.V4.ProtocolsErr, snap.V6.ProtocolsErr); err != nil {
		return nil, fmt.Errorf("read %s's BGP protocols: %w", node.Name, err)
	}
	out := map[string]bird.Protocol{}
	for _, ps := range [][]bird.Protocol{snap.V4.Protocols, snap.V6.Protocols} {
		for _, p := range ps {
			if p.BGP != nil {
				out[p.Name] = p
			}
		}
	}
	return out, nil
}

// waitProtocols polls node's BGP protocols until cond holds, or fails with cond's last word after limit.
func waitProtocols(ctx context.Context, node lab.Node, limit time.Duration, what string, cond func(map[string]bird.Protocol) (bool, string)) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ps, err := bgpProtocols(ctx, node)
		if err != nil {
			return err
		}
		ok, why := cond(ps)
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s: %s", what, limit, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
