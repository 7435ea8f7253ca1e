package bird

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	mini1 = filepath.Join("testdata", "minilab", "bird-1.6.8")
	mini2 = filepath.Join("testdata", "minilab", "bird-2.0.12")
	all   = Need{Status: true, Protocols: true, Routes: true}
)

func mustParseProtocols(t *testing.T, file string, major int, fam Family) []Protocol {
	t.Helper()
	ps, ws, err := ParseProtocols(bytes.NewReader(readFile(t, file)), major, fam, 0)
	if err != nil || len(ws) > 0 {
		t.Fatalf("%s: %v %v", file, err, ws)
	}
	return ps
}

func mustParseRoutes(t *testing.T, file string, major int) []Route {
	t.Helper()
	rs, ws, err := ParseRoutes(bytes.NewReader(readFile(t, file)), major, 0)
	if err != nil || len(ws) > 0 {
		t.Fatalf("%s: %v %v", file, err, ws)
	}
	return rs
}

func noErrors(t *testing.T, d DaemonSnapshot) {
	t.Helper()
	if d.StatusErr != nil || d.ProtocolsErr != nil || d.RoutesErr != nil || len(d.Warnings) > 0 {
		t.Fatalf("%v: errors %v / %v / %v, warnings %v", d.Family, d.StatusErr, d.ProtocolsErr, d.RoutesErr, d.Warnings)
	}
	if d.Status == nil || !d.Status.Up || d.CollectedAt.IsZero() {
		t.Fatalf("%v: status %+v, collected at %v", d.Family, d.Status, d.CollectedAt)
	}
}

func TestCollectBIRD1TwoDaemons(t *testing.T) {
	v4 := startFakeBird(t, greeting1, replies(t, mini1, "v4-"))
	v6 := startFakeBird(t, greeting1, replies(t, mini1, "v6-"))
	c := &Collector{V4Socket: v4.path, V6Socket: v6.path, Timeout: 5 * time.Second}
	s := c.Collect(context.Background(), all)
	noErrors(t, s.V4)
	noErrors(t, s.V6)
	for _, tt := range []struct {
		d      DaemonSnapshot
		prefix string
		fam    Family
		sock   string
	}{{s.V4, "v4-", IPv4, v4.path}, {s.V6, "v6-", IPv6, v6.path}} {
		if tt.d.Family != tt.fam || tt.d.Socket != tt.sock || tt.d.Status.Major != 1 {
			t.Errorf("%v: family %v socket %s major %d", tt.fam, tt.d.Family, tt.d.Socket, tt.d.Status.Major)
		}
		wantP := mustParseProtocols(t, filepath.Join(mini1, tt.prefix+"show-protocols-all.txt"), 1, tt.fam)
		wantR := mustParseRoutes(t, filepath.Join(mini1, tt.prefix+"show-route.txt"), 1)
		if len(tt.d.Protocols) != len(wantP) || len(tt.d.Routes) != len(wantR) || len(wantR) == 0 {
			t.Errorf("%v: %d protocols %d routes, want %d and %d", tt.fam, len(tt.d.Protocols), len(tt.d.Routes), len(wantP), len(wantR))
		}
	}
	for _, f := range []*fakeBird{v4, v6} {
		cmds, conns := f.stats()
		if conns != 1 || strings.Join(cmds, "|") != "show status|show protocols all|show route" {
			t.Errorf("%s: %d connections, commands %q; want one connection for the three commands", f.path, conns, cmds)
		}
	}
}

func TestCollectBIRD2ServesBothFamilies(t *testing.T) {
	b := startFakeBird(t, greeting2, replies(t, mini2, ""))
	missing := filepath.Join(t.TempDir(), "bird6.ctl")
	c := &Collector{V4Socket: b.path, V6Socket: missing, Timeout: 5 * time.Second}
	s := c.Collect(context.Background(), all)
	noErrors(t, s.V4)
	noErrors(t, s.V6)
	if s.V4.Socket != b.path || s.V6.Socket != b.path {
		t.Errorf("sockets %s, %s; want both %s (bird6.ctl unused)", s.V4.Socket, s.V6.Socket, b.path)
	}
	if s.V4.Status == s.V6.Status || *s.V4.Status != *s.V6.Status || s.V4.Status.Major != 2 {
		t.Errorf("status %+v / %+v: want equal copies of the BIRD 2 status", s.V4.Status, s.V6.Status)
	}
	allP := mustParseProtocols(t, filepath.Join(mini2, "show-protocols-all.txt"), 2, 0)
	allR := mustParseRoutes(t, filepath.Join(mini2, "show-route.txt"), 2)
	bgp4, bgp6, other := 0, 0, 0
	for _, p := range allP {
		switch {
		case p.BGP == nil:
			other++
		case p.BGP.Neighbor.Is4():
			bgp4++
		default:
			bgp6++
		}
	}
	if bgp4 == 0 || bgp6 == 0 || other == 0 {
		t.Fatalf("capture lacks BGP sessions of both families or other protocols: %d %d %d", bgp4, bgp6, other)
	}
	for _, d := range []DaemonSnapshot{s.V4, s.V6} {
		wantBGP := bgp4
		if d.Family == IPv6 {
			wantBGP = bgp6
		}
		gotBGP, gotOther := 0, 0
		for _, p := range d.Protocols {
			if p.BGP == nil {
				gotOther++
				continue
			}
			gotBGP++
			if p.BGP.Neighbor.Is4() != (d.Family == IPv4) {
				t.Errorf("%v: BGP %s with neighbor %v", d.Family, p.Name, p.BGP.Neighbor)
			}
		}
		if gotBGP != wantBGP || gotOther != other {
			t.Errorf("%v: %d BGP + %d other protocols, want %d + %d", d.Family, gotBGP, gotOther, wantBGP, other)
		}
		for _, r := range d.Routes {
			if r.Prefix.Addr().Is4() != (d.Family == IPv4) {
				t.Errorf("%v: route %v", d.Family, r.Prefix)
			}
		}
	}
	if len(s.V4.Routes)+len(s.V6.Routes) != len(allR) || len(s.V4.Routes) == 0 || len(s.V6.Routes) == 0 {
		t.Errorf("routes %d + %d, want %d in all", len(s.V4.Routes), len(s.V6.Routes), len(allR))
	}
	if _, conns := b.stats(); conns != 1 {
		t.Errorf("%d connections, want 1", conns)
	}
}

func TestCollectSocketMissing(t *testing.T) {
	v6 := startFakeBird(t, greeting1, replies(t, mini1, "v6-"))
	missing := filepath.Join(t.TempDir(), "bird.ctl")
	c := &Collector{V4Socket: missing, V6Socket: v6.path, Timeout: 5 * time.Second}
	s := c.Collect(context.Background(), all)
	for name, err := range map[string]error{"status": s.V4.StatusErr, "protocols": s.V4.ProtocolsErr, "routes": s.V4.RoutesErr} {
		if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), missing) {
			t.Errorf("V4 %s error %v: want ENOENT naming %s", name, err, missing)
		}
	}
	if s.V4.Status != nil || s.V4.Protocols != nil || s.V4.Routes != nil {
		t.Errorf("V4 has data without a daemon: %+v", s.V4)
	}
	noErrors(t, s.V6)
	if len(s.V6.Routes) == 0 || len(s.V6.Protocols) == 0 {
		t.Errorf("V6 lost its data when V4 failed")
	}

	// No IPv6 socket configured with a BIRD 1.6 on V4: the IPv6 sections say so, only for what was asked.
	v4 := startFakeBird(t, greeting1, replies(t, mini1, "v4-"))
	c = &Collector{V4Socket: v4.path, Timeout: 5 * time.Second}
	s = c.Collect(context.Background(), Need{Protocols: true})
	if !errors.Is(s.V6.ProtocolsErr, ErrNoSocket) || s.V6.StatusErr != nil || s.V6.RoutesErr != nil {
		t.Errorf("V6 errors %v / %v / %v; want ErrNoSocket for protocols only", s.V6.StatusErr, s.V6.ProtocolsErr, s.V6.RoutesErr)
	}
	if s.V4.ProtocolsErr != nil || len(s.V4.Protocols) == 0 || s.V4.Status != nil || s.V4.Routes != nil {
		t.Errorf("V4: %v, %d protocols, status %v, routes %v: want protocols only", s.V4.ProtocolsErr, len(s.V4.Protocols), s.V4.Status, s.V4.Routes)
	}
}

// TestCollectHungV4DoesNotStarveV6: a BIRD 1.6 bird.ctl that accepts but never greets costs the IPv4
// sections their deadline; the IPv6 daemon is read in full meanwhile.
func TestCollectHungV4DoesNotStarveV6(t *testing.T) {
	hung := startFakeBird(t, "", func(string, net.Conn) bool { return false })
	v6 := startFakeBird(t, greeting1, replies(t, mini1, "v6-"))
	c := &Collector{V4Socket: hung.path, V6Socket: v6.path, Timeout: 500 * time.Millisecond}
	s := c.Collect(context.Background(), all)
	if !errors.Is(s.V4.StatusErr, context.DeadlineExceeded) || !errors.Is(s.V4.RoutesErr, context.DeadlineExceeded) {
		t.Errorf("V4 errors %v / %v, want deadline", s.V4.StatusErr, s.V4.RoutesErr)
	}
	noErrors(t, s.V6)
	if len(s.V6.Routes) == 0 || len(s.V6.Protocols) == 0 {
		t.Errorf("V6: %d routes, %d protocols", len(s.V6.Routes), len(s.V6.Protocols))
	}
}

// write sends b, reporting whether the client is still there.
func write(c net.Conn, b string) bool { _, err := c.Write([]byte(b)); return err == nil }

func TestCollectFaults(t *testing.T) {
	routes := string(readFile(t, filepath.Join(mini1, "v4-show-route.txt")))
	protocols := string(readFile(t, filepath.Join(mini1, "v4-show-protocols-all.txt")))
	status := string(readFile(t, filepath.Join(mini1, "v4-show-status.txt")))
	half := func(s string) string { return s[:strings.Index(s[len(s)/2:], "\n")+len(s)/2+1] }
	endless := func(c net.Conn, pause time.Duration) bool {
		line := []byte(" 10.0.0.0/8         blackhole [static1 10:13:55] * (200)\n")
		if !write(c, "1007-10.1.0.0/16       blackhole [static1 10:13:55] * (200)\n") {
			return false
		}
		for {
			if _, err := c.Write(line); err != nil {
				return false
			}
			if pause > 0 {
				time.Sleep(pause)
			}
		}
	}
	type want struct {
		status, protocols, routes error // nil: success; errors.Is target; *ReplyError: its code
	}
	re := func(code int) error { return &ReplyError{Code: code} }
	tests := []struct {
		name      string
		greeting  string
		handle    map[string]func(c net.Conn) bool // by command; default answers normally
		maxReply  int64
		timeout   time.Duration
		want      want
		wantConns int
	}{
		{name: "closes mid-reply", greeting: greeting1,
			handle:    map[string]func(c net.Conn) bool{CmdRoutes: func(c net.Conn) bool { write(c, half(routes)); return false }},
			want:      want{routes: ErrTruncated},
			wantConns: 1},
		{name: "closes mid-reply, next command reconnects", greeting: greeting1,
			handle:    map[string]func(c net.Conn) bool{CmdProtocols: func(c net.Conn) bool { write(c, half(protocols)); return false }},
			want:      want{protocols: ErrTruncated},
			wantConns: 2},
		{name: "closes before replying", greeting: greeting1,
			handle:    map[string]func(c net.Conn) bool{CmdStatus: func(c net.Conn) bool { return false }},
			want:      want{status: ErrTruncated},
			wantConns: 2},
		{name: "runtime error reply", greeting: greeting1,
			handle:    map[string]func(c net.Conn) bool{CmdRoutes: func(c net.Conn) bool { return write(c, "8001 Route not found\n") }},
			want:      want{routes: re(8001)},
			wantConns: 1},
		{name: "syntax error reply keeps the connection", greeting: greeting1,
			handle:    map[string]func(c net.Conn) bool{CmdStatus: func(c net.Conn) bool { return write(c, "9001 syntax error\n") }},
			want:      want{status: re(9001)},
			wantConns: 1},
		{name: "endless reply hits the size cap", greeting: greeting1, maxReply: 1 << 20,
			handle:    map[string]func(c net.Conn) bool{CmdRoutes: func(c net.Conn) bool { return endless(c, 0) }},
			want:      want{routes: ErrReplyTooLarge},
			wantConns: 1},
		{name: "slow endless reply hits the deadline", greeting: greeting1, timeout: 300 * time.Millisecond,
			handle:    map[string]func(c net.Conn) bool{CmdRoutes: func(c net.Conn) bool { return endless(c, time.Millisecond) }},
			want:      want{routes: context.DeadlineExceeded},
			wantConns: 1},
		{name: "silent server hits the deadline", greeting: greeting1, timeout: 300 * time.Millisecond,
			handle: map[string]func(c net.Conn) bool{CmdStatus: func(c net.Conn) bool {
				_, _ = c.Read(make([]byte, 1)) // until the client gives up
				return false
			}},
			want: want{status: context.DeadlineExceeded, protocols: context.DeadlineExceeded, routes: context.DeadlineExceeded}},
		{name: "no greeting", greeting: "", timeout: 300 * time.Millisecond,
			want: want{status: context.DeadlineExceeded, protocols: context.DeadlineExceeded, routes: context.DeadlineExceeded}},
		{name: "not BIRD", greeting: "0001 FRRouting ready.\n",
			want: want{status: ErrProtocol, protocols: ErrProtocol, routes: ErrProtocol}, wantConns: 1},
		{name: "garbage reply", greeting: greeting1,
			handle:    map[string]func(c net.Conn) bool{CmdProtocols: func(c net.Conn) bool { return write(c, "<html>\n") }},
			want:      want{protocols: ErrProtocol},
			wantConns: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeBird(t, tt.greeting, func(cmd string, c net.Conn) bool {
				if h, ok := tt.handle[cmd]; ok {
					return h(c)
				}
				switch cmd {
				case CmdStatus:
					return write(c, status)
				case CmdProtocols:
					return write(c, protocols)
				case CmdRoutes:
					return write(c, routes)
				}
				return write(c, "9001 syntax error\n")
			})
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			c := &Collector{V4Socket: f.path, Timeout: timeout, MaxReplyBytes: tt.maxReply}
			start := time.Now()
			s := c.Collect(context.Background(), all)
			if el := time.Since(start); el > timeout+2*time.Second {
				t.Errorf("collection took %v with a %v timeout", el, timeout)
			}
			check := func(section string, got, want error, ok bool) {
				t.Helper()
				var wantRE *ReplyError
				switch {
				case want == nil:
					if got != nil || !ok {
						t.Errorf("%s: error %v, want success", section, got)
					}
				case errors.As(want, &wantRE):
					var gotRE *ReplyError
					if !errors.As(got, &gotRE) || gotRE.Code != wantRE.Code {
						t.Errorf("%s: error %v, want a *ReplyError %d", section, got, wantRE.Code)
					}
				default:
					if !errors.Is(got, want) {
						t.Errorf("%s: error %v, want %v", section, got, want)
					}
					if ok {
						t.Errorf("%s: data alongside error %v", section, got)
					}
				}
				if got != nil && !strings.Contains(got.Error(), f.path) {
					t.Errorf("%s: error %q does not name the socket", section, got)
				}
			}
			check("status", s.V4.StatusErr, tt.want.status, s.V4.Status != nil)
			check("protocols", s.V4.ProtocolsErr, tt.want.protocols, s.V4.Protocols != nil)
			check("routes", s.V4.RoutesErr, tt.want.routes, s.V4.Routes != nil)
			if _, conns := f.stats(); tt.wantConns != 0 && conns != tt.wantConns {
				t.Errorf("%d connections, want %d", conns, tt.wantConns)
			}
		})
	}
}

// TestGiantReplyBoundedMemory: an endless reply costs no more than the cap allows, however fast it comes.
func TestGiantReplyBoundedMemory(t *testing.T) {
	const limit = 8 << 20
	line := []byte(" 10.0.0.0/8         blackhole [static1 10:13:55] * (200)\n")
	chunk := bytes.Repeat(line, 1000)
	f := startFakeBird(t, greeting2, func(cmd string, c net.Conn) bool {
		if !write(c, "1007-Table master4:\n") {
			return false
		}
		for {
			if _, err := c.Write(chunk); err != nil {
				return false
			}
		}
	})
	c := &Collector{V4Socket: f.path, Timeout: 10 * time.Second, MaxReplyBytes: limit}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := c.Collect(context.Background(), Need{Routes: true})
	runtime.ReadMemStats(&after)
	if !errors.Is(s.V4.RoutesErr, ErrReplyTooLarge) || !errors.Is(s.V6.RoutesErr, ErrReplyTooLarge) {
		t.Fatalf("errors %v / %v, want ErrReplyTooLarge", s.V4.RoutesErr, s.V6.RoutesErr)
	}
	// Routes parsed before the cap (about 140k here) are dropped with the error; what they cost is
	// bounded by the cap (see DefaultMaxReplyBytes): at most about 6× its bytes.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*limit {
		t.Errorf("allocated %d MiB for a %d MiB cap", alloc>>20, limit>>20)
	}
}

func TestCollectCancel(t *testing.T) {
	started := make(chan struct{})
	f := startFakeBird(t, greeting1, func(cmd string, c net.Conn) bool {
		close(started)
		_, _ = c.Read(make([]byte, 1))
		return false
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	c := &Collector{V4Socket: f.path, Timeout: time.Minute}
	start := time.Now()
	s := c.Collect(ctx, Need{Status: true})
	if !errors.Is(s.V4.StatusErr, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", s.V4.StatusErr)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("cancellation took %v", el)
	}
}

func TestConnRefusesBeforeTheSocket(t *testing.T) {
	f := startFakeBird(t, greeting1, func(cmd string, c net.Conn) bool { return write(c, "0000 \n") })
	conn, err := Dial(context.Background(), f.path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Version != "1.6.8" || conn.Major != 1 {
		t.Errorf("version %q major %d", conn.Version, conn.Major)
	}
	for _, cmd := range []string{"configure", "disable Mesh_1", "restart all", "down", "eval 1", "show status\nconfigure"} {
		err := conn.Run(context.Background(), cmd, func(int, []byte, int) {})
		var re *RefusedError
		if !errors.As(err, &re) || re.Command != cmd {
			t.Errorf("Run(%q) = %v, want a *RefusedError naming it", cmd, err)
		}
	}
	// The connection is still fine, and the server never saw the refused commands.
	if err := conn.Run(context.Background(), "show  memory", func(int, []byte, int) {}); err != nil {
		t.Fatal(err)
	}
	if cmds, _ := f.stats(); strings.Join(cmds, "|") != "show memory" {
		t.Errorf("server saw %q, want only the allowed command", cmds)
	}
}

// TestCollectAfterRestart: a daemon that goes away and comes back on the same path is read again by the
// next collection.
func TestCollectAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bird.ctl")
	f := startFakeBirdAt(t, path, greeting1, replies(t, mini1, "v4-"))
	c := &Collector{V4Socket: path, Timeout: 5 * time.Second}
	if s := c.Collect(context.Background(), all); s.V4.StatusErr != nil || s.V4.RoutesErr != nil {
		t.Fatalf("before restart: %v %v", s.V4.StatusErr, s.V4.RoutesErr)
	}
	f.stop()
	if s := c.Collect(context.Background(), all); s.V4.StatusErr == nil || s.V4.ProtocolsErr == nil || s.V4.RoutesErr == nil {
		t.Fatalf("daemon gone, yet no errors: %+v", s.V4)
	}
	// Back as BIRD 2: the next collection reads both families from it.
	startFakeBirdAt(t, path, greeting2, replies(t, mini2, ""))
	s := c.Collect(context.Background(), all)
	noErrors(t, s.V4)
	noErrors(t, s.V6)
	if s.V4.Status.Major != 2 || len(s.V6.Routes) == 0 {
		t.Errorf("after restart as BIRD 2: major %d, %d IPv6 routes", s.V4.Status.Major, len(s.V6.Routes))
	}
}
