package e2e

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// socketProxy sits between an agent and a real BIRD control socket. On demand it holds what BIRD
// sends on the next connection, so the agent is caught in the middle of a collection for as long as the
// test wants (the way a big table or a busy BIRD makes a collection last).
type socketProxy struct {
	path, target string
	ln           net.Listener

	mu      sync.Mutex
	armed   bool
	held    chan struct{} // closed when a held connection received BIRD's first bytes
	release chan struct{} // closed by the test to let it through
	wg      sync.WaitGroup
}

func newSocketProxy(t testing.TB, path, target string) *socketProxy {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("proxy listen on %s: %v", path, err)
	}
	p := &socketProxy{path: path, target: target, ln: ln}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		if p.armed {
			close(p.release)
			p.armed = false
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// hold arranges for the next connection's reply to be held; held is closed once BIRD answered on it.
func (p *socketProxy) hold() (held <-chan struct{}, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = true
	p.held = make(chan struct{})
	p.release = make(chan struct{})
	rel := p.release
	var once sync.Once
	return p.held, func() {
		once.Do(func() {
			p.mu.Lock()
			p.armed = false
			p.mu.Unlock()
			close(rel)
		})
	}
}

func (p *socketProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		var held, release chan struct{}
		if p.armed && p.held != nil {
			held, release = p.held, p.release
			p.held = nil // only one connection is caught
		}
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.pipe(c, held, release)
		}()
	}
}

// pipe forwards between the agent's connection and BIRD; with held set, BIRD's first bytes wait until
// release is closed.
func (p *socketProxy) pipe(c net.Conn, held, release chan struct{}) {
	defer c.Close()
	b, err := net.Dial("unix", p.target)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(b, c)
		_ = b.(*net.UnixConn).CloseWrite()
	}()
	if held != nil {
		buf := make([]byte, 4096)
		n, err := b.Read(buf)
		close(held)
		<-release
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				err = errors.Join(err, werr)
			}
		}
		if err != nil {
			<-done
			return
		}
	}
	_, _ = io.Copy(c, b)
	_ = c.(*net.UnixConn).CloseWrite()
	<-done
}
