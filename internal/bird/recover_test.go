package bird

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParserPanicFailsOnlyItsSection: a parser that panics (a bug met by some reply) fails its own
// section with a *PanicError; the other sections of the same daemon, read after it on the same
// connection, and the other family are intact, and Collect returns normally.
func TestParserPanicFailsOnlyItsSection(t *testing.T) {
	dir := filepath.Join("testdata", "captures", "bird-1.6.8")
	for _, panicking := range []string{CmdStatus, CmdProtocols, CmdRoutes} {
		t.Run(panicking, func(t *testing.T) {
			testHookLineFunc = func(cmd string, fn LineFunc) LineFunc {
				if cmd != panicking {
					return fn
				}
				return func(code int, text []byte, lineNo int) {
					if lineNo == 2 {
						var m map[string]int
						m["boom"]++ // a nil map write: a runtime panic, as a real bug would be
					}
					fn(code, text, lineNo)
				}
			}
			t.Cleanup(func() { testHookLineFunc = nil })
			v4 := startFakeBird(t, greeting1, replies(t, dir, "v4-"))
			v6 := startFakeBird(t, "0001 BIRD 1.6.8 ready.\n", replies(t, dir, "v6-"))
			c := &Collector{V4Socket: v4.path, V6Socket: v6.path, Timeout: time.Minute, MaxRoutes: 100}
			s := c.Collect(context.Background(), Need{Status: true, Protocols: true, Routes: true})
			for _, d := range []*DaemonSnapshot{&s.V4, &s.V6} {
				errs := map[string]error{CmdStatus: d.StatusErr, CmdProtocols: d.ProtocolsErr, CmdRoutes: d.RoutesErr}
				for cmd, err := range errs {
					var pe *PanicError
					switch {
					case cmd == panicking && (!errors.As(err, &pe) || pe.Command != cmd || len(pe.Stack) == 0 ||
						!strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "nil map")):
						t.Errorf("%v %s: error %v, want a *PanicError naming the command and the panic", d.Family, cmd, err)
					case cmd != panicking && err != nil:
						t.Errorf("%v %s: %v, want it read despite the panic in %s", d.Family, cmd, err, panicking)
					}
				}
				switch panicking {
				case CmdStatus:
					if d.Status != nil || len(d.Protocols) == 0 || d.TotalRoutes() == 0 {
						t.Errorf("%v: status %v, %d protocols, %d routes", d.Family, d.Status, len(d.Protocols), d.TotalRoutes())
					}
				case CmdProtocols:
					if d.Status == nil || d.Protocols != nil || d.TotalRoutes() == 0 {
						t.Errorf("%v: status %v, %d protocols, %d routes", d.Family, d.Status, len(d.Protocols), d.TotalRoutes())
					}
				case CmdRoutes:
					if d.Status == nil || len(d.Protocols) == 0 || d.Routes != nil || d.RouteTotals != (RouteTotals{}) {
						t.Errorf("%v: status %v, %d protocols, routes %v %+v", d.Family, d.Status, len(d.Protocols), d.Routes, d.RouteTotals)
					}
				}
			}
			// The reply after the panic was read to its end: the connection stayed in step.
			if _, conns := v4.stats(); conns != 1 {
				t.Errorf("%d connections to bird.ctl, want 1", conns)
			}
		})
	}
}

// TestSessionRunRecovers: a panic in a parser leaves the connection usable for the next command.
func TestSessionRunRecovers(t *testing.T) {
	f := startFakeBird(t, greeting2, func(cmd string, c net.Conn) bool {
		_, err := c.Write([]byte("1000-BIRD 2.0.12\n1011-Router ID is 10.0.0.1\n0013 Daemon is up and running\n"))
		return err == nil
	})
	c := &Collector{V4Socket: f.path}
	s := c.newSession(IPv4)
	defer s.close()
	err := s.run(context.Background(), CmdStatus, 0, func(*Conn) LineFunc {
		return func(int, []byte, int) { panic("boom") }
	})
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("run: %v, want a *PanicError", err)
	}
	p := &statusParser{cmd: CmdStatus}
	if err := s.run(context.Background(), CmdStatus, 0, func(*Conn) LineFunc { return p.line }); err != nil || !p.st.Up {
		t.Fatalf("next command on the same connection: %v, status %+v", err, p.st)
	}
	if _, conns := f.stats(); conns != 1 {
		t.Fatalf("%d connections, want 1", conns)
	}
}
