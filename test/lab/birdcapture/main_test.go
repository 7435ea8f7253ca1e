package main

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeBIRD serves one connection on a fresh unix socket: it sends greeting, reads one command line into
// got, then writes reply and, if endless, keeps writing "1000-more" lines until the client goes away.
func fakeBIRD(t *testing.T, greeting, reply string, endless bool) (socket string, got chan string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "bc") // short: unix socket paths are limited to ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket = filepath.Join(dir, "s")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(greeting))
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
		c.Write([]byte(reply))
		for endless {
			if _, err := c.Write([]byte("1000-more\n")); err != nil {
				return
			}
		}
	}()
	return socket, got
}

func TestRun(t *testing.T) {
	const greeting = "0001 BIRD 1.6.8 ready.\n"
	full := "2002-name     proto    table    state  since       info\n1002-static1  Static   master   up     2026-11-24 10:17:58  \n kernel1  Kernel   master   up     2026-11-24 10:17:58  \n0000 \n"
	for _, tc := range []struct {
		name      string
		reply     string
		endless   bool
		wantErr   string
		wantReply string
	}{
		{name: "whole reply", reply: full, wantReply: full},
		{name: "error reply", reply: "9001 syntax error\n", wantReply: "9001 syntax error\n"},
		{name: "cut off", reply: full[:60], wantErr: "cut off", wantReply: full[:60]},
		{name: "endless", reply: "1007-x\n", endless: true, wantErr: "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			socket, got := fakeBIRD(t, greeting, tc.reply, tc.endless)
			dir := t.TempDir()
			out, greet := filepath.Join(dir, "reply"), filepath.Join(dir, "greeting")
			start := time.Now()
			err := run(socket, "show protocols", out, greet, 2*time.Second)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("run: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("run error = %v, want one containing %q", err, tc.wantErr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("run took %v with a 2s deadline", d)
			}
			if cmd := <-got; cmd != "show protocols\n" {
				t.Errorf("server received %q, want %q", cmd, "show protocols\n")
			}
			if b, _ := os.ReadFile(greet); string(b) != greeting {
				t.Errorf("greeting file = %q, want %q", b, greeting)
			}
			if tc.wantReply != "" {
				if b, _ := os.ReadFile(out); string(b) != tc.wantReply {
					t.Errorf("reply file = %q, want the raw bytes %q", b, tc.wantReply)
				}
			}
		})
	}
}

func TestIsFinal(t *testing.T) {
	for line, want := range map[string]bool{
		"0000 \n":                         true,
		"0013 Daemon is up and running\n": true,
		"9001 syntax error\n":             true,
		"1002-static1  Static\n":          false,
		" kernel1  Kernel\n":              false,
		"0000\n":                          false,
		"00a0 x\n":                        false,
		"":                                false,
	} {
		if got := isFinal([]byte(line)); got != want {
			t.Errorf("isFinal(%q) = %v, want %v", line, got, want)
		}
	}
}
