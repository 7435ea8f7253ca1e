package lab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// protocols runs birdc's `show protocols` on socket and returns name -> the rest of the line.
func protocols(t *testing.T, birdc, socket string) map[string]string {
	t.Helper()
	out, err := exec.Command(birdc, "-s", socket, "show", "protocols").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -s %s show protocols: %v\n%s", birdc, socket, err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] != "proto" && f[1] != "Proto" {
			m[f[0]] = strings.Join(f[1:], " ")
		}
	}
	return m
}

func protoName(prefix, ip string) string {
	return prefix + strings.NewReplacer(".", "_", ":", "_").Replace(ip)
}

// leftovers lists what of lab name is still on the machine: namespaces, processes, the run dir.
func leftovers(t *testing.T, name string) []string {
	t.Helper()
	var left []string
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], name+"-") {
			left = append(left, "netns "+f[0])
		}
	}
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err == nil && strings.Contains(string(b), "/run/"+name+"/") {
			left = append(left, "process "+filepath.Base(filepath.Dir(c))+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	if _, err := os.Stat("/run/" + name); err == nil {
		left = append(left, "dir /run/"+name)
	}
	return left
}

// TestLab brings up a lab of every flavour (BIRD 1.6, BIRD 2, Calico's fork when a build is given) side by
// side and checks, on every node and socket, that each kind of peer the README promises is in its
// promised state; then that `up` again is idempotent and `down` leaves nothing behind.
func TestLab(t *testing.T) {
	Prereqs(t)
	wantVersion := map[string]*regexp.Regexp{
		Bird1.Name:  regexp.MustCompile(`^1\.6\.`),
		Bird2.Name:  regexp.MustCompile(`^2\.`),
		Calico.Name: regexp.MustCompile(`^v\d.*\+birdv1\.6\.`), // e.g. v0.3.3+birdv1.6.8
	}
	for _, f := range Flavours(t) {
		tc := struct {
			name  string
			bird  int
			nodes int
		}{name: "labtest" + f.Tag, bird: f.Bird, nodes: 3}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := Start(t, f.Options(Options{Name: tc.name, Nodes: tc.nodes, Timeout: 2 * time.Minute}))
			if l.Name != tc.name || l.Bird != tc.bird || l.Flavour != f.Flavour || len(l.Nodes) != tc.nodes || !wantVersion[f.Name].MatchString(l.BirdVersion) {
				t.Fatalf("lab.json: name %q bird %d flavour %q nodes %d version %q; want %q %d %q %d %v", l.Name, l.Bird, l.Flavour, len(l.Nodes), l.BirdVersion, tc.name, tc.bird, f.Flavour, tc.nodes, wantVersion[f.Name])
			}
			for _, d := range []string{l.Daemon, l.Daemon6, l.Birdc, l.Birdc6} {
				if fi, err := os.Stat(d); err != nil || fi.Mode()&0o111 == 0 {
					t.Errorf("lab.json names binary %q: %v", d, err)
				}
			}
			for _, n := range l.Nodes {
				type fam struct{ birdc, socket, tor, peer, dead, off string }
				fams := []fam{
					{l.Birdc, n.Socket4, l.Tor.IP4, l.Peer.IP4, l.DeadPeer.IP4, l.DisabledPeer.IP4},
					{l.Birdc6, n.Socket6, l.Tor.IP6, l.Peer.IP6, l.DeadPeer.IP6, l.DisabledPeer.IP6},
				}
				for _, f := range fams {
					got := protocols(t, f.birdc, f.socket)
					want := map[string]string{
						protoName("Global_", f.tor):                                       "Established",
						protoName("Node_", f.peer) + "_port_" + strconv.Itoa(l.Peer.Port): "Established",
						protoName("Node_", f.dead):                                        " start ",
						protoName("Node_", f.off):                                         " down ",
					}
					for _, o := range l.Nodes {
						ip := o.IP4
						if f.tor == l.Tor.IP6 {
							ip = o.IP6
						}
						if o.Name != n.Name {
							want[protoName("Mesh_", ip)] = "Established"
						}
					}
					if f.tor == l.Tor.IP6 {
						want[protoName("Node_", l.Tor.LinkLocal6)] = "Established" // link-local, with a zone
					}
					for p, w := range want {
						if line, ok := got[p]; !ok || !strings.Contains(" "+line+" ", w) {
							t.Errorf("%s %s: protocol %s = %q, want it to contain %q", n.Name, f.socket, p, line, w)
						}
					}
					if bad := got[protoName("Node_", f.dead)]; strings.Contains(bad, "Established") {
						t.Errorf("%s: the peer nobody answers for is Established: %q", n.Name, bad)
					}
				}
			}
			if f == Bird1 {
				// up over an existing lab tears it down first and comes up again.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				l2, err := Up(ctx, f.Options(Options{Name: tc.name, Nodes: 2}))
				if err != nil {
					t.Fatalf("second up: %v", err)
				}
				if len(l2.Nodes) != 2 {
					t.Errorf("second up: %d nodes, want 2", len(l2.Nodes))
				}
				if left := leftovers(t, tc.name); len(left) == 0 {
					t.Errorf("second up: nothing of lab %s found on the machine", tc.name)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := Down(ctx, tc.name); err != nil {
				t.Fatalf("down: %v", err)
			}
			if left := leftovers(t, tc.name); len(left) > 0 {
				t.Errorf("after down, left behind: %q", left)
			}
		})
	}
}
