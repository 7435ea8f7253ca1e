package fleet

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// Flavours are the BIRD builds the hollow nodes pretend to run, by capture directory: stock 1.6.8 and
// Calico's fork (two daemons each, bird.ctl and bird6.ctl). Nodes alternate between them.
var Flavours = []string{"bird-1.6.8", "bird-v0.3.3+birdv1.6.8"}

// replies are one flavour's captured replies, per family prefix ("v4-", "v6-").
type replies struct {
	greeting      map[string][]byte
	status        map[string][]byte
	protocols     map[string][]byte
	protocolsDown map[string][]byte // peer-down: a mesh peer lost
	routes        map[string][]byte
	routesChanged map[string][]byte // a route change: the ToR's /32s moved (v4 only; v6 replays the same)
	retryConnect  map[string][]byte // the retrying peer in Connect (the capture)
	retryActive   map[string][]byte // the same peer in Active, same error: what a retrying peer flips to
}

// loadReplies reads a flavour's captures from dir (internal/bird/testdata/captures/<flavour>).
func loadReplies(dir string) (*replies, error) {
	r := &replies{greeting: map[string][]byte{}, status: map[string][]byte{}, protocols: map[string][]byte{},
		protocolsDown: map[string][]byte{}, routes: map[string][]byte{}, routesChanged: map[string][]byte{},
		retryConnect: map[string][]byte{}, retryActive: map[string][]byte{}}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read capture %s: %w", name, err)
		}
		return b, nil
	}
	for _, fam := range []string{"v4-", "v6-"} {
		var err error
		if r.greeting[fam], err = read(fam + "greeting.txt"); err != nil {
			return nil, err
		}
		if r.status[fam], err = read(fam + "show-status.txt"); err != nil {
			return nil, err
		}
		if r.protocols[fam], err = read(fam + "show-protocols-all.txt"); err != nil {
			return nil, err
		}
		if r.protocolsDown[fam], err = read(fam + "show-protocols-all-peer-down.txt"); err != nil {
			return nil, err
		}
		if r.routes[fam], err = read(fam + "show-route.txt"); err != nil {
			return nil, err
		}
		r.routesChanged[fam] = []byte(strings.ReplaceAll(string(r.routes[fam]), "10.128.0.", "10.128.1."))
		// The capture's unanswered peer is in Connect with "Socket: No route to host"; BIRD alternates it
		// between Connect and Active with the same error while it retries.
		p := string(r.protocols[fam])
		r.retryConnect[fam] = r.protocols[fam]
		r.retryActive[fam] = []byte(replaceRetrying(p))
	}
	return r, nil
}

// replaceRetrying flips every protocol line in Connect to Active (same error, same since).
func replaceRetrying(reply string) string {
	lines := strings.SplitAfter(reply, "\n")
	for i, l := range lines {
		if strings.Contains(l, " BGP ") && strings.Contains(l, "  Connect ") {
			lines[i] = strings.Replace(l, "  Connect ", "  Active  ", 1)
		}
	}
	return strings.Join(lines, "")
}

// nodeState is the scripted state of one hollow node's BIRD: which reply each command gets now.
type nodeState struct {
	peerDown     atomic.Bool
	routeChanged atomic.Bool
	retrying     bool
	retryFlip    atomic.Uint64
}

// fakeBird is one hollow node's two BIRD 1.6 daemons: a unix socket each, answering the collector's
// commands from the flavour's captures according to the node's scripted state.
type fakeBird struct {
	dir       string
	v4, v6    string
	rep       *replies
	state     *nodeState
	listeners []net.Listener
	wg        sync.WaitGroup
	commands  atomic.Uint64
}

func startFakeBird(dir string, rep *replies, st *nodeState) (*fakeBird, error) {
	f := &fakeBird{dir: dir, v4: filepath.Join(dir, "bird.ctl"), v6: filepath.Join(dir, "bird6.ctl"), rep: rep, state: st}
	for fam, path := range map[string]string{"v4-": f.v4, "v6-": f.v6} {
		ln, err := net.Listen("unix", path)
		if err != nil {
			f.stop()
			return nil, fmt.Errorf("listen on fake BIRD socket %s: %w", path, err)
		}
		f.listeners = append(f.listeners, ln)
		f.wg.Add(1)
		go f.accept(ln, fam)
	}
	return f, nil
}

func (f *fakeBird) accept(ln net.Listener, fam string) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(c, fam)
		}()
	}
}

// serve greets, then answers one command per line until the client closes (the collector opens one
// connection per daemon per collection).
func (f *fakeBird) serve(c net.Conn, fam string) {
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write(f.rep.greeting[fam]); err != nil {
		return
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		f.commands.Add(1)
		if _, err := c.Write(f.reply(strings.TrimSpace(line), fam)); err != nil {
			return
		}
	}
}

func (f *fakeBird) reply(cmd, fam string) []byte {
	st := f.state
	switch cmd {
	case bird.CmdRestrict:
		return []byte("0016 Access restricted\n")
	case bird.CmdStatus:
		return f.rep.status[fam]
	case bird.CmdProtocols:
		switch {
		case st.peerDown.Load():
			return f.rep.protocolsDown[fam]
		case st.retrying && st.retryFlip.Add(1)%2 == 0:
			return f.rep.retryActive[fam]
		default:
			return f.rep.retryConnect[fam]
		}
	case bird.CmdRoutes:
		if st.routeChanged.Load() {
			return f.rep.routesChanged[fam]
		}
		return f.rep.routes[fam]
	}
	return []byte("9001 syntax error, unexpected CF_SYM_UNDEFINED\n")
}

func (f *fakeBird) stop() {
	for _, ln := range f.listeners {
		_ = ln.Close()
	}
	f.wg.Wait()
}
