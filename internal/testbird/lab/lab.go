package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// Lab is the description lab.sh writes to /run/<name>/lab.json once the lab is up.
type Lab struct {
	Name         string `json:"name"`
	Bird         int    `json:"bird"`        // 1 (bird + bird6) or 2 (one daemon): layout and reply dialect
	Flavour      string `json:"flavour"`     // "stock" (Debian's BIRD) or "calico" (Calico's BIRD fork)
	BirdVersion  string `json:"birdVersion"` // e.g. "1.6.8", "2.0.12", "v0.3.3+birdv1.6.8"
	Daemon       string `json:"daemon"`      // the nodes' BIRD binary (Socket4's daemon)
	Daemon6      string `json:"daemon6"`     // the nodes' IPv6 BIRD binary (bird6; BIRD 2: same as Daemon)
	Birdc        string `json:"birdc"`       // client for Node.Socket4
	Birdc6       string `json:"birdc6"`      // client for Node.Socket6 (BIRD 2: same as Birdc)
	Routes       int    `json:"routes"`      // routes the ToR announces, IPv4
	Routes6      int    `json:"routes6"`     // routes the ToR announces, IPv6
	Timeformat   string `json:"timeformat"`  // "iso" (full date+time) or "default" (BIRD's, as Calico)
	RunDir       string `json:"runDir"`
	AS           int    `json:"as"` // every node's AS
	Tor          Peer   `json:"tor"`
	Peer         Peer   `json:"peer"`         // gobgpd, a node-specific peer (Node_<ip>)
	DeadPeer     Addrs  `json:"deadPeer"`     // configured Node_<ip> peers nobody answers for
	DisabledPeer Addrs  `json:"disabledPeer"` // configured Node_<ip> peers with `disabled;`
	Nodes        []Node `json:"nodes"`
}

// Peer is a BGP speaker of the lab that is not a node.
type Peer struct {
	Netns      string `json:"netns"`
	AS         int    `json:"as"`
	IP4        string `json:"ip4"`
	IP6        string `json:"ip6"`
	LinkLocal6 string `json:"linkLocal6,omitempty"` // ToR: its IPv6 link-local address (Node_fe80__99_fe session)
	Port       int    `json:"port,omitempty"`       // BGP port when not 179 (gobgpd: 1790, Node_<ip>_port_1790)
	Socket     string `json:"socket,omitempty"`     // BIRD control socket (ToR only)
}

// Addrs is a pair of peer addresses, one per family.
type Addrs struct {
	IP4 string `json:"ip4"`
	IP6 string `json:"ip6"`
}

// Node is one Calico-like node: its namespace, addresses, BIRD sockets and its first IPAM block.
type Node struct {
	Name    string `json:"name"`
	Netns   string `json:"netns"`
	IP4     string `json:"ip4"`
	IP6     string `json:"ip6"`
	Socket4 string `json:"socket4"`
	Socket6 string `json:"socket6"` // BIRD 2: same as Socket4
	Block4  string `json:"block4"`
	Block6  string `json:"block6"`
}

// Options of lab.sh up; zero values take lab.sh's defaults.
type Options struct {
	Name  string // default "cnslab"; [a-z][a-z0-9]{0,11}
	Nodes int    // default 3
	Bird  int    // 1 or 2, default 1
	// Flavour "calico" runs the nodes on a build of Calico's BIRD fork (paths.sh's CALICO_BIRD_DIR; Bird
	// must then be 0 or 1); "" or "stock" on Debian's BIRD.
	Flavour    string
	Routes     int    // routes the ToR announces per family; 0 = lab.sh's default (10)
	Routes6    int    // IPv6 routes; 0 = same as Routes
	Timeformat string // "iso" (default) or "default"
	Timeout    time.Duration
}

// Flavours of BIRD build the lab runs its nodes on.
const (
	FlavourStock  = "stock"  // Debian's bird (1.6.8) or bird2 (2.0.12)
	FlavourCalico = "calico" // a build of Calico's fork of BIRD 1.6.8 (projectcalico/bird)
)

// Script is the path of test/lab/lab.sh, found from this file's place in the repository (the lab's shell
// half stays in test/lab beside its README, for humans and the demo).
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "test", "lab", "lab.sh")
}

// Up runs `lab.sh up` and returns the lab's description. lab.sh tears down a lab of the same name first and
// returns only when every node's sessions are Established and the ToR's routes are imported.
func Up(ctx context.Context, o Options) (*Lab, error) {
	args := []string{"up"}
	add := func(flag, v string) { args = append(args, flag, v) }
	if o.Name != "" {
		add("--name", o.Name)
	}
	if o.Nodes != 0 {
		add("--nodes", strconv.Itoa(o.Nodes))
	}
	switch {
	case o.Flavour == FlavourCalico:
		if o.Bird > 1 {
			return nil, fmt.Errorf("lab %s: Calico's BIRD fork is BIRD 1.6 (two daemons), not BIRD %d", o.Name, o.Bird)
		}
		add("--bird", FlavourCalico)
	case o.Flavour != "" && o.Flavour != FlavourStock:
		return nil, fmt.Errorf("lab %s: unknown flavour %q (want %q or %q)", o.Name, o.Flavour, FlavourStock, FlavourCalico)
	case o.Bird != 0:
		add("--bird", strconv.Itoa(o.Bird))
	}
	if o.Routes > 0 {
		add("--routes", strconv.Itoa(o.Routes))
	}
	if o.Routes6 > 0 {
		add("--routes6", strconv.Itoa(o.Routes6))
	}
	if o.Timeformat != "" {
		add("--timeformat", o.Timeformat)
	}
	if o.Timeout > 0 {
		add("--timeout", strconv.Itoa(int(o.Timeout.Round(time.Second)/time.Second)))
	}
	if err := run(ctx, args...); err != nil {
		return nil, err
	}
	name := o.Name
	if name == "" {
		name = "cnslab"
	}
	return Load(name)
}

// Down runs `lab.sh down`: no namespace, link, process or run dir of the lab is left.
func Down(ctx context.Context, name string) error {
	return run(ctx, "down", "--name", name)
}

// Load reads /run/<name>/lab.json of a lab that is up.
func Load(name string) (*Lab, error) {
	path := filepath.Join("/run", name, "lab.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lab description: %w", err)
	}
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &l, nil
}

func run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, Script(), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab.sh %v: %w\n%s", args, err, out.Bytes())
	}
	return nil
}
