package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// The binary is built and run for real: flag registration happens in init functions of dependencies
// (controller-runtime, which the agent once linked, registered --kubeconfig), so only a real start shows a clash.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "calico-node-status-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestAgentBinaryFlagsAndRequiredNodeName(t *testing.T) {
	bin := buildAgent(t)

	out, err := exec.Command(bin, "--help").CombinedOutput()
	if strings.Contains(string(out), "panic") || strings.Contains(string(out), "redefined") {
		t.Fatalf("--help panicked: %s", out)
	}
	for _, f := range []string{"-node-name", "-kubeconfig", "-bird-socket", "-bird6-socket", "-metrics-bind-address", "-health-probe-bind-address", "-max-routes-per-family"} {
		if !strings.Contains(string(out), f) {
			t.Errorf("--help does not list %s:\n%s", f, out)
		}
	}

	cmd := exec.Command(bin, "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no NODENAME
	out, err = cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("agent without a node name exited 0: %s", out)
	}
	if !strings.Contains(string(out), "--node-name") {
		t.Fatalf("error does not name --node-name: %s", out)
	}

	// A negative cap is refused at start, naming the flag.
	cmd = exec.Command(bin, "--node-name", "n", "--max-peers-per-family", "-1", "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--max-peers-per-family=-1: must be between 1 and 2000") {
		t.Fatalf("agent with --max-peers-per-family=-1: %v: %s", err, out)
	}
}

// fakeBIRD serves a Unix socket that greets as Calico's BIRD fork and answers `show status`; it closes
// when the test ends.
func fakeBIRD(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = c.Write([]byte("0001 BIRD v0.3.3+birdv1.6.8 ready.\n"))
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					reply := "9001 syntax error\n"
					if sc.Text() == "show status" {
						reply = "1000-BIRD v0.3.3+birdv1.6.8\n1011-Router ID is 10.99.0.1\n0013 Daemon is up and running\n"
					}
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// TestSocketFallback: socket flags left unset try calico-node's candidates in order at every collection;
// a flag given is used as given, even with the default's value.
func TestSocketFallback(t *testing.T) {
	calico, plain := t.TempDir(), t.TempDir()
	cands := socketCandidates{
		v4: []string{filepath.Join(calico, "bird.ctl"), filepath.Join(plain, "bird.ctl")},
		v6: []string{filepath.Join(calico, "bird6.ctl"), filepath.Join(plain, "bird6.ctl")},
	}
	parse := func(args ...string) options {
		t.Helper()
		o := parseFlags(t, args...)
		o.birdTimeout = 5 * time.Second
		return o
	}
	status := bird.Need{Status: true}

	// A BIRD on the host (/var/run/bird): found by an agent with default flags.
	fakeBIRD(t, cands.v4[1])
	fakeBIRD(t, cands.v6[1])
	c := newCollector(parse(), cands)
	s := c.Collect(context.Background(), status)
	if s.V4.Socket != cands.v4[1] || s.V6.Socket != cands.v6[1] || s.V4.StatusErr != nil || s.V6.StatusErr != nil {
		t.Fatalf("default flags: sockets %s, %s, errors %v, %v; want the fallbacks", s.V4.Socket, s.V6.Socket, s.V4.StatusErr, s.V6.StatusErr)
	}
	if s.V4.Status.Version != "v0.3.3+birdv1.6.8" || s.V4.Status.Major != 1 {
		t.Errorf("status %+v", s.V4.Status)
	}

	// calico-node's BIRD starts: the same collector reads it from the next collection on.
	fakeBIRD(t, cands.v4[0])
	s = c.Collect(context.Background(), status)
	if s.V4.Socket != cands.v4[0] || s.V4.StatusErr != nil || s.V6.Socket != cands.v6[1] {
		t.Errorf("after calico's BIRD started: sockets %s, %s, error %v; want %s, %s", s.V4.Socket, s.V6.Socket, s.V4.StatusErr, cands.v4[0], cands.v6[1])
	}

	// Given flags are used as given: no fallback, even when the flag's value is the default.
	missing := filepath.Join(t.TempDir(), "bird6.ctl")
	o := parse("--bird-socket", defaultSockets.v4[0], "--bird6-socket", missing)
	if !o.birdSocketSet || !o.bird6SocketSet {
		t.Fatalf("flags given, not noted: %+v", o)
	}
	c = newCollector(o, cands)
	if c.V4Socket != defaultSockets.v4[0] || len(c.V4Fallbacks) != 0 || c.V6Socket != missing || len(c.V6Fallbacks) != 0 {
		t.Errorf("given flags: collector %+v", c)
	}
	s = c.Collect(context.Background(), status)
	if s.V6.Socket != missing || !errors.Is(s.V6.StatusErr, syscall.ENOENT) {
		t.Errorf("given bird6 socket: read %s, error %v; want %s and no fallback", s.V6.Socket, s.V6.StatusErr, missing)
	}

	// The real defaults are calico-node's, in its order.
	o = parse()
	c = newCollector(o, defaultSockets)
	if got := append([]string{c.V4Socket}, c.V4Fallbacks...); strings.Join(got, " ") != "/var/run/calico/bird.ctl /var/run/bird/bird.ctl" {
		t.Errorf("default IPv4 sockets %q", got)
	}
	if got := append([]string{c.V6Socket}, c.V6Fallbacks...); strings.Join(got, " ") != "/var/run/calico/bird6.ctl /var/run/bird/bird6.ctl" {
		t.Errorf("default IPv6 sockets %q", got)
	}
}

// parseFlags parses args as the agent's command line does (registerFlags, noteSetFlags).
func parseFlags(t *testing.T, args ...string) options {
	t.Helper()
	var o options
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	registerFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	noteSetFlags(fs, &o)
	return o
}
