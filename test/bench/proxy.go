package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// countingProxy listens on a Unix socket and forwards each connection to BIRD's control socket, counting
// connections and commands (newline-terminated lines from the client). Both measured processes talk to
// BIRD through their own proxy, so the counts come from the same place for both; the proxy's own CPU is
// the bench's, not theirs.
type countingProxy struct {
	ln       net.Listener
	upstream string
	conns    atomic.Int64
	commands atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	open     map[net.Conn]struct{}
	closed   bool
}

func newCountingProxy(path, upstream string) (*countingProxy, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on proxy socket %s: %w", path, err)
	}
	p := &countingProxy{ln: ln, upstream: upstream, open: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *countingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.conns.Add(1)
		up, err := net.Dial("unix", p.upstream)
		if err != nil {
			// As if the daemon were down: the client sees the connection closed.
			_ = c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			p.copyCounting(up, c)
			_ = up.(*net.UnixConn).CloseWrite()
		}()
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(c, up)
			p.untrack(c, up)
		}()
	}
}

func (p *countingProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.open[c] = struct{}{}
	}
	return true
}

func (p *countingProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
		delete(p.open, c)
	}
}

// copyCounting copies client -> BIRD and counts the newlines: one per command.
func (p *countingProxy) copyCounting(dst io.Writer, src io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.commands.Add(int64(bytes.Count(buf[:n], []byte{'\n'})))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

type proxyCounts struct{ Conns, Commands int64 }

func (p *countingProxy) counts() proxyCounts {
	return proxyCounts{Conns: p.conns.Load(), Commands: p.commands.Load()}
}

// Close stops listening, closes every forwarded connection and waits for the copiers.
func (p *countingProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
