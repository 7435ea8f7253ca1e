// Package testbird starts real BIRD daemons for tests and benchmarks: BIRD 1.6 (bird + bird6) or BIRD 2
// (one bird serving both families) in a network namespace of their own, with a minimal Calico-like
// configuration and any number of extra static routes. Root only; it imports nothing of this project
// but testenv/prereq, so package bird's own tests can use it.
package testbird

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

// Daemons are real BIRD daemons a test started itself: BIRD 1.6 (bird + bird6) or BIRD 2 (one bird) in a
// network namespace of their own (only loopback and a veth pair inside it, nothing outside is touched),
// with a minimal Calico-like configuration: kernel (export none), device, direct, static blackhole /
// unreachable / prohibit / multipath routes, n extra static routes, and BGP sessions towards 127.0.0.2 and
// ::2 that never connect.
type Daemons struct {
	tb    testing.TB
	Major int
	// NetNS is the namespace's name; Dir holds the configurations, logs and sockets.
	NetNS, Dir string
	// Sock4 is bird.ctl; Sock6 is bird6.ctl with BIRD 1.6, bird.ctl again with BIRD 2.
	Sock4, Sock6 string
	// Birdc and Birdc6 are the clients of Sock4 and Sock6.
	Birdc, Birdc6 string
	daemons       []daemonSpec

	mu    sync.Mutex
	procs []*exec.Cmd
}

type daemonSpec struct{ bin, conf, sock string }

// Bird2Bin finds BIRD 2's bird and birdc ($BIRD2_BIRD, or unpacked by hack/prereqs.sh).
func Bird2Bin(tb testing.TB) (bird, birdc string) {
	cache := os.Getenv("CNS_CACHE_DIR")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "calico-node-status")
	}
	if b := os.Getenv("BIRD2_BIRD"); b != "" {
		return b, filepath.Join(filepath.Dir(b), "birdc")
	}
	m, _ := filepath.Glob(filepath.Join(cache, "bird2-*", "usr", "sbin", "bird"))
	prereq.Require(tb, len(m) > 0, "BIRD 2 unpacked under "+cache+"/bird2-*/", "run hack/prereqs.sh as root (make prereqs)")
	return m[len(m)-1], filepath.Join(filepath.Dir(m[len(m)-1]), "birdc")
}

// Start starts the daemons of BIRD major (1 or 2) with extraRoutes more static routes (IPv4; a quarter
// as many IPv6) and waits until every socket greets. They are stopped and the namespace removed when the
// test ends.
func Start(tb testing.TB, major, extraRoutes int) *Daemons {
	tb.Helper()
	prereq.Root(tb)
	how := "run hack/prereqs.sh as root (make prereqs)"
	prereq.Binary(tb, "ip", how)
	b := &Daemons{tb: tb, Major: major, Dir: tb.TempDir()}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	b.NetNS = "cnsbt-" + hex.EncodeToString(rnd[:])
	b.Sock4 = filepath.Join(b.Dir, "bird.ctl")
	if major == 1 {
		b.Sock6 = filepath.Join(b.Dir, "bird6.ctl")
		b.Birdc = prereq.Binary(tb, "/usr/sbin/birdc", how)
		b.Birdc6 = prereq.Binary(tb, "/usr/sbin/birdc6", how)
		b.daemons = []daemonSpec{
			{prereq.Binary(tb, "/usr/sbin/bird", how), b.writeConf("bird.conf", bird1Conf(4, extraRoutes)), b.Sock4},
			{prereq.Binary(tb, "/usr/sbin/bird6", how), b.writeConf("bird6.conf", bird1Conf(6, extraRoutes)), b.Sock6},
		}
	} else {
		bin, birdc := Bird2Bin(tb)
		b.Sock6, b.Birdc, b.Birdc6 = b.Sock4, birdc, birdc
		b.daemons = []daemonSpec{{bin, b.writeConf("bird.conf", bird2Conf(extraRoutes)), b.Sock4}}
	}
	for _, args := range [][]string{
		{"netns", "add", b.NetNS},
		{"-n", b.NetNS, "link", "set", "lo", "up"},
		{"-n", b.NetNS, "link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"-n", b.NetNS, "link", "set", "v0", "up"},
		{"-n", b.NetNS, "link", "set", "v1", "up"},
		{"-n", b.NetNS, "addr", "add", "10.250.0.1/24", "dev", "v0"},
		{"-n", b.NetNS, "addr", "add", "fd00:250::1/64", "dev", "v0", "nodad"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.Cleanup()
			tb.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	tb.Cleanup(b.Cleanup)
	b.Start()
	return b
}

func (b *Daemons) writeConf(name, conf string) string {
	p := filepath.Join(b.Dir, name)
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		b.tb.Fatal(err)
	}
	return p
}

func staticRoutes(fam, n int) string {
	var s strings.Builder
	for i := 0; i < n; i++ {
		if fam == 4 {
			fmt.Fprintf(&s, "  route 10.%d.%d.%d/32 blackhole;\n", 128+i>>16, (i>>8)&255, i&255)
		} else {
			fmt.Fprintf(&s, "  route fd00:128:%x:%x::/64 blackhole;\n", i>>16, i&0xffff)
		}
	}
	return s.String()
}

func bird1Conf(fam, extra int) string {
	if fam == 4 {
		return `router id 10.250.0.1;
protocol kernel { learn; scan time 10; import all; export none; }
protocol device { scan time 10; }
protocol direct { interface "v0"; }
protocol static {
  route 10.200.0.0/16 blackhole;
  route 10.201.0.0/16 unreachable;
  route 10.202.0.0/16 prohibit;
  route 10.203.0.0/16 multipath via 10.250.0.2 weight 1 via 10.250.0.3 weight 2;
  route 10.204.0.0/16 via 10.250.0.2;
` + staticRoutes(4, extra) + `}
protocol bgp Node_127_0_0_2 { local as 64512; neighbor 127.0.0.2 as 64513; multihop; import all; export none; }
`
	}
	return `router id 10.250.0.1;
protocol kernel { learn; scan time 10; import all; export none; }
protocol device { scan time 10; }
protocol direct { interface "v0"; }
protocol static {
  route fd00:200::/64 blackhole;
  route fd00:201::/64 unreachable;
  route fd00:203::/64 multipath via fd00:250::2 via fd00:250::3;
` + staticRoutes(6, extra/4) + `}
protocol bgp Node___2 { local as 64512; neighbor ::2 as 64513; multihop; import all; export none; }
`
}

func bird2Conf(extra int) string {
	return `router id 10.250.0.1;
protocol kernel kernel1 { learn; scan time 10; ipv4 { import all; export none; }; }
protocol kernel kernel2 { learn; scan time 10; ipv6 { import all; export none; }; }
protocol device { scan time 10; }
protocol direct { ipv4; ipv6; interface "v0"; }
protocol static static1 { ipv4;
  route 10.200.0.0/16 blackhole;
  route 10.201.0.0/16 unreachable;
  route 10.202.0.0/16 prohibit;
  route 10.203.0.0/16 via 10.250.0.2 weight 1 via 10.250.0.3 weight 2;
  route 10.204.0.0/16 via 10.250.0.2;
` + staticRoutes(4, extra) + `}
protocol static static2 { ipv6;
  route fd00:200::/64 blackhole;
  route fd00:201::/64 unreachable;
  route fd00:203::/64 via fd00:250::2 via fd00:250::3;
` + staticRoutes(6, extra/4) + `}
protocol bgp Node_127_0_0_2 { local as 64512; neighbor 127.0.0.2 as 64513; multihop; ipv4 { import all; export none; }; }
protocol bgp Node___2 { local as 64512; neighbor ::2 as 64513; multihop; ipv6 { import all; export none; }; }
`
}

// Start (re)starts the daemons in the foreground (so the test owns the processes) and waits until every
// socket greets.
func (b *Daemons) Start() {
	b.tb.Helper()
	b.mu.Lock()
	for _, d := range b.daemons {
		_ = os.Remove(d.sock)
		logf, err := os.Create(d.conf + ".log")
		if err != nil {
			b.mu.Unlock()
			b.tb.Fatal(err)
		}
		// `ip netns exec` execs the daemon: the process we hold is BIRD itself.
		cmd := exec.Command("ip", "netns", "exec", b.NetNS, d.bin, "-f", "-c", d.conf, "-s", d.sock)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			b.mu.Unlock()
			b.tb.Fatalf("start %s: %v", d.bin, err)
		}
		_ = logf.Close()
		b.procs = append(b.procs, cmd)
	}
	b.mu.Unlock()
	for _, d := range b.daemons {
		b.waitGreeting(d)
	}
}

func (b *Daemons) waitGreeting(d daemonSpec) {
	b.tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := greets(d.sock)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(d.conf + ".log")
			b.tb.Fatalf("%s did not answer on %s: %v\n%s", d.bin, d.sock, err, log)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
}

// greets connects to a control socket and reads BIRD's greeting, "0001 BIRD <version> ready.".
func greets(path string) error {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "0001 BIRD ") {
		return fmt.Errorf("unexpected greeting %q", line)
	}
	return nil
}

// Kill SIGKILLs every daemon and waits for them.
func (b *Daemons) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.procs {
		_ = p.Process.Signal(syscall.SIGKILL)
		_ = p.Wait()
	}
	b.procs = nil
}

// Cleanup kills the daemons and removes the namespace (also done when the test ends).
func (b *Daemons) Cleanup() {
	b.Kill()
	_ = exec.Command("ip", "netns", "del", b.NetNS).Run()
}

// BirdcOut runs the version's birdc (birdc6 for BIRD 1.6's IPv6 daemon) for cmd.
func (b *Daemons) BirdcOut(v6 bool, cmd string) ([]byte, error) {
	client, sock := b.Birdc, b.Sock4
	if v6 {
		client, sock = b.Birdc6, b.Sock6
	}
	return exec.Command(client, append([]string{"-s", sock}, strings.Fields(cmd)...)...).CombinedOutput()
}
