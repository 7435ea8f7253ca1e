package bird

import (
	"bufio"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeBird is a transport test double: a unix socket in a temp dir that speaks BIRD's CLI framing. It
// greets, reads one command per line and lets handle write the reply; handle returns false to drop the
// connection.
type fakeBird struct {
	path     string
	greeting string
	handle   func(cmd string, c net.Conn) bool

	mu       sync.Mutex
	commands []string
	conns    int
	// stop closes the listener (removing the socket file) and every connection, and waits for them.
	stop func()
}

func startFakeBird(t *testing.T, greeting string, handle func(cmd string, c net.Conn) bool) *fakeBird {
	t.Helper()
	return startFakeBirdAt(t, filepath.Join(t.TempDir(), "bird.ctl"), greeting, handle)
}

func startFakeBirdAt(t *testing.T, path, greeting string, handle func(cmd string, c net.Conn) bool) *fakeBird {
	t.Helper()
	f := &fakeBird{path: path, greeting: greeting, handle: handle}
	ln, err := net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	open := map[net.Conn]bool{}
	closed := false
	var once sync.Once
	f.stop = func() {
		once.Do(func() {
			_ = ln.Close()
			f.mu.Lock()
			closed = true
			for c := range open {
				_ = c.Close()
			}
			f.mu.Unlock()
			wg.Wait()
		})
	}
	t.Cleanup(f.stop)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			if closed {
				f.mu.Unlock()
				_ = c.Close()
				return
			}
			f.conns++
			open[c] = true
			wg.Add(1)
			f.mu.Unlock()
			go func() {
				defer wg.Done()
				defer func() {
					f.mu.Lock()
					delete(open, c)
					f.mu.Unlock()
					_ = c.Close()
				}()
				f.serve(c)
			}()
		}
	}()
	return f
}

func (f *fakeBird) serve(c net.Conn) {
	if f.greeting != "" {
		if _, err := c.Write([]byte(f.greeting)); err != nil {
			return
		}
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimSuffix(line, "\n")
		f.mu.Lock()
		f.commands = append(f.commands, cmd)
		f.mu.Unlock()
		if !f.handle(cmd, c) {
			return
		}
	}
}

func (f *fakeBird) stats() (commands []string, conns int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...), f.conns
}

const (
	greeting1 = "0001 BIRD 1.6.8 ready.\n"
	greeting2 = "0001 BIRD 2.0.12 ready.\n"
)

// replies answers the three collector commands from captured files of one daemon; other commands get
// BIRD's syntax error.
func replies(t *testing.T, dir, prefix string) func(cmd string, c net.Conn) bool {
	t.Helper()
	m := map[string][]byte{
		CmdStatus:    readFile(t, filepath.Join(dir, prefix+"show-status.txt")),
		CmdProtocols: readFile(t, filepath.Join(dir, prefix+"show-protocols-all.txt")),
		CmdRoutes:    readFile(t, filepath.Join(dir, prefix+"show-route.txt")),
	}
	return func(cmd string, c net.Conn) bool {
		b, ok := m[cmd]
		if !ok {
			b = []byte("9001 syntax error, unexpected CF_SYM_UNDEFINED\n")
		}
		_, err := c.Write(b)
		return err == nil
	}
}
