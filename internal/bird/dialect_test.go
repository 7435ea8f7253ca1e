package bird

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// versionLine is the version line of a `show status` capture.
var versionLine = regexp.MustCompile(`(?m)^1000-BIRD \S+$`)

// repliesAs answers like replies, with version as the daemon's version in `show status`, and answers
// `show protocols` (the dialect probe) from the `show protocols all` capture (same heading) unless
// probe is false (then it is a syntax error, as for any unknown command).
func repliesAs(t *testing.T, dir, prefix, version string, probe bool) func(cmd string, c net.Conn) bool {
	t.Helper()
	status := versionLine.ReplaceAll(readFile(t, filepath.Join(dir, prefix+"show-status.txt")), []byte("1000-BIRD "+version))
	if !strings.Contains(string(status), "1000-BIRD "+version+"\n") {
		t.Fatalf("no version line in %s", dir)
	}
	m := map[string][]byte{
		CmdStatus:    status,
		CmdProtocols: readFile(t, filepath.Join(dir, prefix+"show-protocols-all.txt")),
		CmdRoutes:    readFile(t, filepath.Join(dir, prefix+"show-route.txt")),
	}
	if probe {
		m[cmdProbe] = m[CmdProtocols]
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

func greetingOf(version string) string { return "0001 BIRD " + version + " ready.\n" }

// TestCollectVersionForms: every version string BIRD builds print is read, and its major decides the
// dialect without asking the daemon anything else.
func TestCollectVersionForms(t *testing.T) {
	for _, tt := range []struct {
		version string
		major   int
	}{
		{"v0.3.3+birdv1.6.8", 1}, {"1.6.8", 1}, {"2.0.12", 2}, {"v2.15.1", 2}, {"2.17.1", 2}, {"3.1.0", 3},
		{"v2.15-12-gabc", 2},
	} {
		t.Run(tt.version, func(t *testing.T) {
			dir, prefix := mini1, "v4-"
			if tt.major >= 2 {
				dir, prefix = mini2, ""
			}
			b := startFakeBird(t, greetingOf(tt.version), repliesAs(t, dir, prefix, tt.version, true))
			c := &Collector{V4Socket: b.path, Timeout: 5 * time.Second}
			s := c.Collect(context.Background(), all)
			noErrors(t, s.V4)
			if s.V4.Status.Version != tt.version || s.V4.Status.Major != tt.major || s.V4.DialectNote != "" {
				t.Errorf("status version %q major %d note %q; want %q, %d, no note", s.V4.Status.Version, s.V4.Status.Major, s.V4.DialectNote, tt.version, tt.major)
			}
			if bothFromOne := s.V6.Socket == b.path; bothFromOne != (tt.major >= 2) {
				t.Errorf("V6 socket %q: BIRD %d.x read as serving both families: %v", s.V6.Socket, tt.major, bothFromOne)
			}
			if cmds, _ := b.stats(); slices.Contains(cmds, cmdProbe) {
				t.Errorf("commands %q: the dialect was probed although the version says it", cmds)
			}
		})
	}
}

// TestCollectUnrecognisedVersion: a version that cannot be read never fails collection. The dialect is
// decided from the daemon's own reply shape, else from the socket layout, and the snapshot says which.
func TestCollectUnrecognisedVersion(t *testing.T) {
	const odd = "next-gen"
	for _, tt := range []struct {
		name string
		// replies1: the daemon speaks BIRD 1.x's dialect (else 2.x's); probe: it answers `show protocols`.
		replies1, probe bool
		// v6Beside: a BIRD 1.x bird6.ctl (with a readable version) runs beside bird.ctl.
		v6Beside  bool
		wantMajor int
		wantWhy   string
	}{
		{name: "1.x replies, heading says so", replies1: true, probe: true, wantMajor: 1, wantWhy: "heading"},
		{name: "2.x replies, heading says so", probe: true, wantMajor: 2, wantWhy: "heading"},
		{name: "1.x replies, heading says so over a bird6.ctl", replies1: true, probe: true, v6Beside: true, wantMajor: 1, wantWhy: "heading"},
		{name: "no probe, bird6.ctl beside", replies1: true, v6Beside: true, wantMajor: 1, wantWhy: "bird6.ctl exists beside it"},
		{name: "no probe, nothing beside", wantMajor: 2, wantWhy: "nothing says otherwise"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			v4path, v6path := filepath.Join(dir, "bird.ctl"), filepath.Join(dir, "bird6.ctl")
			replyDir, prefix := mini2, ""
			if tt.replies1 {
				replyDir, prefix = mini1, "v4-"
			}
			b := startFakeBirdAt(t, v4path, greetingOf(odd), repliesAs(t, replyDir, prefix, odd, tt.probe))
			if tt.v6Beside {
				startFakeBirdAt(t, v6path, greeting1, replies(t, mini1, "v6-"))
			}
			c := &Collector{V4Socket: v4path, V6Socket: v6path, Timeout: 5 * time.Second}
			s := c.Collect(context.Background(), all)
			noErrors(t, s.V4)
			st := s.V4.Status
			if st.Version != odd || st.Major != tt.wantMajor {
				t.Errorf("status version %q major %d; want %q as printed, dialect %d", st.Version, st.Major, odd, tt.wantMajor)
			}
			note := s.V4.DialectNote
			for _, w := range []string{`"` + odd + `"`, "not recognised", "BIRD " + string(rune('0'+tt.wantMajor)) + ".x", tt.wantWhy, v4path} {
				if !strings.Contains(note, w) {
					t.Errorf("dialect note %q lacks %q", note, w)
				}
			}
			if tt.wantMajor >= 2 {
				// Read as BIRD 2: both families from the one daemon, each saying how it was read.
				noErrors(t, s.V6)
				if s.V6.Socket != v4path || s.V6.DialectNote != note || len(s.V6.Routes) == 0 {
					t.Errorf("V6 socket %s note %q, %d routes; want the BIRD 2 daemon's", s.V6.Socket, s.V6.DialectNote, len(s.V6.Routes))
				}
			} else if tt.v6Beside {
				noErrors(t, s.V6)
				if s.V6.Socket != v6path || s.V6.DialectNote != "" {
					t.Errorf("V6 socket %s note %q; want bird6.ctl, read by its own version", s.V6.Socket, s.V6.DialectNote)
				}
			} else if !errors.Is(s.V6.StatusErr, syscall.ENOENT) {
				t.Errorf("V6 status error %v; want the absent bird6.ctl", s.V6.StatusErr)
			}
			if len(s.V4.Protocols) == 0 || len(s.V4.Routes) == 0 {
				t.Errorf("V4: %d protocols, %d routes", len(s.V4.Protocols), len(s.V4.Routes))
			}
			for _, p := range s.V4.Protocols {
				if p.BGP != nil && (!p.BGP.Neighbor.IsValid() || p.BGP.State == "") {
					t.Errorf("%s: BGP details not read in the decided dialect: %+v", p.Name, *p.BGP)
				}
			}
			cmds, conns := b.stats()
			if conns != 1 || cmds[0] != cmdProbe || strings.Join(cmds[1:], "|") != "show status|show protocols all|show route" {
				t.Errorf("%d connections, commands %q; want the probe once, then the collection on one connection", conns, cmds)
			}
		})
	}

	// The daemon on the IPv6 socket is BIRD 1.x's bird6: no probe needed.
	t.Run("IPv6 socket", func(t *testing.T) {
		v4 := startFakeBird(t, greeting1, replies(t, mini1, "v4-"))
		v6 := startFakeBird(t, greetingOf(odd), repliesAs(t, mini1, "v6-", odd, false))
		c := &Collector{V4Socket: v4.path, V6Socket: v6.path, Timeout: 5 * time.Second}
		s := c.Collect(context.Background(), all)
		noErrors(t, s.V4)
		noErrors(t, s.V6)
		if s.V6.Status.Major != 1 || s.V6.Status.Version != odd || !strings.Contains(s.V6.DialectNote, "IPv6 socket") || s.V4.DialectNote != "" {
			t.Errorf("V6 status %+v note %q, V4 note %q", s.V6.Status, s.V6.DialectNote, s.V4.DialectNote)
		}
	})

	// A greeting with no version at all ("BIRD ready.") and a status version line with nothing after BIRD.
	t.Run("no version at all", func(t *testing.T) {
		b := startFakeBird(t, "0001 BIRD ready.\n", func(cmd string, c net.Conn) bool {
			if cmd == CmdStatus {
				return write(c, "1000-BIRD\n1011-Router ID is 10.0.0.1\n0013 Daemon is up and running\n")
			}
			return repliesAs(t, mini2, "", "x", true)(cmd, c)
		})
		c := &Collector{V4Socket: b.path, Timeout: 5 * time.Second}
		s := c.Collect(context.Background(), all)
		noErrors(t, s.V4)
		if s.V4.Status.Version != "" || s.V4.Status.Major != 2 || s.V4.Status.RouterID != "10.0.0.1" || !strings.Contains(s.V4.DialectNote, `BIRD version ""`) {
			t.Errorf("status %+v note %q", s.V4.Status, s.V4.DialectNote)
		}
	})
}

// TestCollectFallbackSockets: with fallbacks, each collection reads the first socket that accepts, in
// order, so a daemon that appears (or moves) later is found; a daemon that accepts but fails is not
// skipped for the next one.
func TestCollectFallbackSockets(t *testing.T) {
	calico, plain := t.TempDir(), t.TempDir()
	cal4, cal6 := filepath.Join(calico, "bird.ctl"), filepath.Join(calico, "bird6.ctl")
	pl4, pl6 := filepath.Join(plain, "bird.ctl"), filepath.Join(plain, "bird6.ctl")
	c := &Collector{V4Socket: cal4, V6Socket: cal6, V4Fallbacks: []string{pl4}, V6Fallbacks: []string{pl6}, Timeout: 5 * time.Second}

	// Nothing anywhere: the error names every socket tried and still means "unreachable" (ENOENT).
	s := c.Collect(context.Background(), Need{Status: true})
	for _, d := range []DaemonSnapshot{s.V4, s.V6} {
		msg := ""
		if d.StatusErr != nil {
			msg = d.StatusErr.Error()
		}
		primary, fallback := cal4, pl4
		if d.Family == IPv6 {
			primary, fallback = cal6, pl6
		}
		if !errors.Is(d.StatusErr, syscall.ENOENT) || !strings.Contains(msg, primary) || !strings.Contains(msg, fallback) || d.Socket != primary {
			t.Errorf("%v: socket %s, error %v; want ENOENT naming %s and %s", d.Family, d.Socket, d.StatusErr, primary, fallback)
		}
	}

	// Only the fallbacks answer (a BIRD installed outside Calico).
	p4 := startFakeBirdAt(t, pl4, greeting1, replies(t, mini1, "v4-"))
	startFakeBirdAt(t, pl6, greeting1, replies(t, mini1, "v6-"))
	s = c.Collect(context.Background(), all)
	noErrors(t, s.V4)
	noErrors(t, s.V6)
	if s.V4.Socket != pl4 || s.V6.Socket != pl6 {
		t.Errorf("sockets %s, %s; want the fallbacks %s, %s", s.V4.Socket, s.V6.Socket, pl4, pl6)
	}

	// A stale socket file in /var/run/calico (nobody listening: connection refused) falls through too.
	staleLn, err := net.Listen("unix", cal4)
	if err != nil {
		t.Fatal(err)
	}
	staleLn.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = staleLn.Close()
	if _, err := os.Stat(cal4); err != nil {
		t.Fatalf("stale socket file: %v", err)
	}
	s = c.Collect(context.Background(), Need{Status: true})
	if s.V4.StatusErr != nil || s.V4.Socket != pl4 {
		t.Errorf("stale primary: socket %s, error %v; want the fallback", s.V4.Socket, s.V4.StatusErr)
	}
	_ = os.Remove(cal4)

	// Calico's BIRD starts later: the next collection reads it first, without restarting anything.
	startFakeBirdAt(t, cal4, greeting1, replies(t, mini1, "v4-"))
	_, before := p4.stats()
	s = c.Collect(context.Background(), all)
	noErrors(t, s.V4)
	if _, after := p4.stats(); s.V4.Socket != cal4 || after != before {
		t.Errorf("socket %s, fallback connections %d -> %d; want %s and no connection to the fallback", s.V4.Socket, before, after, cal4)
	}
	if s.V6.Socket != pl6 {
		t.Errorf("V6 socket %s; want the fallback %s (each family resolves alone)", s.V6.Socket, pl6)
	}

	// A primary that accepts and then greets wrongly is that daemon's failure, not a reason to read another.
	startFakeBirdAt(t, cal6, "0001 FRR 8.1 ready.\n", func(string, net.Conn) bool { return false })
	s = c.Collect(context.Background(), Need{Status: true})
	if !errors.Is(s.V6.StatusErr, ErrProtocol) || s.V6.Socket != cal6 {
		t.Errorf("impostor primary: socket %s, error %v; want its error, not the fallback's data", s.V6.Socket, s.V6.StatusErr)
	}
}
