package bird

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// capture is one raw reply captured from a real BIRD (testdata/captures, see its README), with what
// birdc printed for the same command.
type capture struct {
	path   string // the raw reply
	birdc  string // birdc's view, "" when absent
	major  int
	family Family // the daemon's family for BIRD 1.6, 0 for BIRD 2
	kind   string // status, protocols, routes, error, other
	// detailed is set for `show protocols all` (plain `show protocols` has no BGP details).
	detailed bool
}

func loadCaptures(t testing.TB) []capture {
	t.Helper()
	dirs, err := filepath.Glob("testdata/*/bird-*")
	if err != nil {
		t.Fatal(err)
	}
	var out []capture
	for _, dir := range dirs {
		major, ok := majorOf(strings.TrimPrefix(filepath.Base(dir), "bird-"))
		if !ok {
			t.Fatalf("capture directory %s: no version in its name", dir)
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			base := filepath.Base(f)
			if strings.HasSuffix(base, ".birdc.txt") {
				continue
			}
			c := capture{path: f, major: major}
			name := strings.TrimSuffix(base, ".txt")
			switch {
			case strings.HasPrefix(name, "v4-"):
				c.family, name = IPv4, name[3:]
			case strings.HasPrefix(name, "v6-"):
				c.family, name = IPv6, name[3:]
			}
			switch {
			case strings.HasPrefix(name, "greeting"):
				c.kind = "greeting"
			case strings.HasPrefix(name, "error-"):
				c.kind = "error"
			case strings.HasPrefix(name, "show-status"):
				c.kind = "status"
			case strings.HasPrefix(name, "show-protocols"):
				c.kind = "protocols"
				c.detailed = strings.HasPrefix(name, "show-protocols-all")
			case strings.HasPrefix(name, "show-route-count"):
				c.kind = "other"
			case strings.HasPrefix(name, "show-route"):
				c.kind = "routes"
			default:
				c.kind = "other"
			}
			if b := strings.TrimSuffix(f, ".txt") + ".birdc.txt"; fileExists(b) {
				c.birdc = b
			}
			out = append(out, c)
		}
	}
	return out
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCaptures parses every captured reply and checks it against what birdc printed for the same command.
func TestCaptures(t *testing.T) {
	caps := loadCaptures(t)
	if len(caps) == 0 {
		t.Skip("no captures in testdata/captures yet")
	}
	kinds := map[string]int{}
	for _, c := range caps {
		kinds[c.kind]++
		t.Run(filepath.Base(filepath.Dir(c.path))+"/"+filepath.Base(c.path), func(t *testing.T) {
			raw := readFile(t, c.path)
			switch c.kind {
			case "greeting":
				line := strings.TrimRight(string(raw), "\n")
				if len(line) < 5 {
					t.Fatalf("greeting %q too short", line)
				}
				ver, major, ok := parseGreeting(1, []byte(line[5:]))
				if !ok || major != c.major || !strings.HasPrefix(line, "0001 ") {
					t.Fatalf("greeting %q: version %q major %d ok %v, want major %d", line, ver, major, ok, c.major)
				}
			case "error":
				_, _, err := ParseProtocols(bytes.NewReader(raw), c.major, c.family, 0)
				var re *ReplyError
				if !errors.As(err, &re) || re.Code < 8000 {
					t.Fatalf("error capture: got %v, want a *ReplyError", err)
				}
				if c.birdc != "" && !strings.Contains(string(readFile(t, c.birdc)), re.Text) {
					t.Errorf("error text %q not in birdc's output", re.Text)
				}
			case "status":
				st, ws, err := ParseStatus(bytes.NewReader(raw), 0)
				if err != nil || len(ws) > 0 {
					t.Fatalf("ParseStatus: %v, warnings %v", err, ws)
				}
				if st.Major != c.major || !st.Up {
					t.Errorf("status %+v: want major %d, up", st, c.major)
				}
				if c.birdc != "" {
					checkStatusAgainstBirdc(t, st, readFile(t, c.birdc))
				}
			case "protocols":
				ps, ws, err := ParseProtocols(bytes.NewReader(raw), c.major, c.family, 0)
				if err != nil || len(ws) > 0 {
					t.Fatalf("ParseProtocols: %v, warnings %v", err, ws)
				}
				if len(ps) == 0 {
					t.Fatal("no protocols parsed")
				}
				checkProtocolsSane(t, ps, c)
				if c.birdc != "" {
					checkProtocolsAgainstBirdc(t, ps, readFile(t, c.birdc))
				}
			case "routes":
				rs, ws, err := ParseRoutes(bytes.NewReader(raw), c.major, 0)
				if err != nil || len(ws) > 0 {
					t.Fatalf("ParseRoutes: %v, warnings %v", err, ws)
				}
				if len(rs) == 0 {
					t.Fatal("no routes parsed")
				}
				checkRoutesSane(t, rs, c)
				if c.birdc != "" {
					checkRoutesAgainstBirdc(t, rs, readFile(t, c.birdc))
				}
			default:
				// Commands we do not parse: the framing must still accept the whole reply.
				lines := 0
				err := newLineReader(bytes.NewReader(raw), 0).readReply("capture", func(int, []byte, int) { lines++ })
				if err != nil || lines == 0 {
					t.Fatalf("framing: %v after %d lines", err, lines)
				}
			}
		})
	}
	t.Logf("captures by kind: %v", kinds)
}

func checkProtocolsSane(t *testing.T, ps []Protocol, c capture) {
	t.Helper()
	for _, p := range ps {
		if p.BGP == nil || !c.detailed {
			continue
		}
		if !p.BGP.Neighbor.IsValid() || p.BGP.NeighborAS == 0 || p.BGP.State == "" {
			t.Errorf("%s: incomplete BGP details %+v", p.Name, *p.BGP)
		}
		if c.major >= 2 && p.BGP.LocalAS == 0 {
			t.Errorf("%s: BIRD 2 prints Local AS, none parsed", p.Name)
		}
		// Calico names a peer on another port "<name>_port_<n>"; BIRD 2 prints the port, 1.6 does not.
		if i := strings.LastIndex(p.Name, "_port_"); i >= 0 && c.major >= 2 &&
			fmt.Sprint(p.BGP.NeighborPort) != p.Name[i+len("_port_"):] {
			t.Errorf("%s: neighbor port %d", p.Name, p.BGP.NeighborPort)
		}
		if p.BGP.State == "Established" {
			if p.BGP.HoldTime == 0 || p.BGP.KeepaliveTime == 0 || p.BGP.NeighborID == "" {
				t.Errorf("%s: established session without timers or neighbor ID: %+v", p.Name, *p.BGP)
			}
		}
		if c.family != 0 && (len(p.BGP.Channels) != 1 || p.BGP.Channels[0] != c.family) {
			t.Errorf("%s: channels %v, want [%v]", p.Name, p.BGP.Channels, c.family)
		}
		if c.family != 0 && p.BGP.Neighbor.Is4() != (c.family == IPv4) {
			t.Errorf("%s: neighbor %v on a %v daemon", p.Name, p.BGP.Neighbor, c.family)
		}
	}
}

func checkRoutesSane(t *testing.T, rs []Route, c capture) {
	t.Helper()
	for _, r := range rs {
		if !r.Prefix.IsValid() || r.Protocol == "" || r.Since == "" || strings.Contains(r.Since, ".") {
			t.Errorf("route %+v: missing prefix, protocol or since (or since with fraction)", r)
		}
		if c.family != 0 && r.Prefix.Addr().Is4() != (c.family == IPv4) {
			t.Errorf("route %v on a %v daemon", r.Prefix, c.family)
		}
		if (r.Kind == RouteUnicast) != (len(r.NextHops) > 0) {
			t.Errorf("route %v: kind %v with %d next hops", r.Prefix, r.Kind, len(r.NextHops))
		}
		for _, nh := range r.NextHops {
			if nh.Interface == "" {
				t.Errorf("route %v: next hop without interface %+v", r.Prefix, nh)
			}
		}
	}
}

// The birdc views are read with regular expressions, independently of the parsers under test.
var (
	birdcRoute    = regexp.MustCompile(`^(\S+)?\s+(\S.*?)\s+\[(\S+) ([^\]]*?)\]( [*!])?`)
	birdcProtocol = regexp.MustCompile(`^(\S+)\s+(\S+)\s+(\S+)\s+(up|down|start|stop|feed|flush)\s+`)
	birdcBGPState = regexp.MustCompile(`^\s+BGP state:\s+(\S+)`)
	birdcRouterID = regexp.MustCompile(`Router ID is (\S+)`)
	birdcBoot     = regexp.MustCompile(`Last reboot on (\S+(?: \d\d:\d\d:\d\d)?)`)
)

func birdcLines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first {
			first = false
			if strings.HasPrefix(sc.Text(), "BIRD ") && strings.HasSuffix(sc.Text(), "ready.") {
				continue
			}
		}
		out = append(out, sc.Text())
	}
	return out
}

// sameBIRDTime compares two printings of one BIRD time. BIRD 1.x keeps times on a monotonic clock in
// seconds and prints them as now_real - (now - t) (sysdep/unix/io.c, tm_format_datetime): two printings
// of the same instant a moment apart can differ by a second.
func sameBIRDTime(a, b string) bool {
	const layout = "2006-01-02 15:04:05"
	ta, errA := time.Parse(layout, a)
	tb, errB := time.Parse(layout, b)
	if errA != nil || errB != nil {
		return a == b
	}
	d := ta.Sub(tb)
	return d >= -time.Second && d <= time.Second
}

func checkStatusAgainstBirdc(t *testing.T, st *Status, b []byte) {
	t.Helper()
	for _, d := range diffStatusBirdc(st, b) {
		t.Error(d)
	}
}

func diffStatusBirdc(st *Status, b []byte) []string {
	var diffs []string
	s := string(b)
	if !strings.Contains(s, "BIRD "+st.Version+"\n") {
		diffs = append(diffs, fmt.Sprintf("version %q not printed by birdc", st.Version))
	}
	if m := birdcRouterID.FindStringSubmatch(s); m == nil || m[1] != st.RouterID {
		diffs = append(diffs, fmt.Sprintf("router ID %q, birdc says %v", st.RouterID, m))
	}
	if m := birdcBoot.FindStringSubmatch(s); m == nil || !sameBIRDTime(m[1], st.BootTime) {
		diffs = append(diffs, fmt.Sprintf("boot time %q, birdc says %v", st.BootTime, m))
	}
	if st.Up != strings.Contains(s, "Daemon is up and running") {
		diffs = append(diffs, fmt.Sprintf("up %v disagrees with birdc", st.Up))
	}
	return diffs
}

// checkProtocolsAgainstBirdc compares a capture with birdc's view taken a moment later: a session that
// is trying to connect may have moved between Active, Connect and Idle in between, so those count as one.
func checkProtocolsAgainstBirdc(t *testing.T, ps []Protocol, b []byte) {
	t.Helper()
	for _, d := range diffProtocolsBirdc(ps, b, true) {
		t.Error(d)
	}
}

func connecting(s string) string {
	switch s {
	case "Active", "Connect", "Idle":
		return "(connecting)"
	}
	return s
}

// diffProtocolsBirdc compares name, kind, table, state and BGP state of every protocol, in order.
func diffProtocolsBirdc(ps []Protocol, b []byte, loose bool) []string {
	type row struct{ name, kind, table, state, bgp string }
	var want []row
	for _, l := range birdcLines(b) {
		if m := birdcProtocol.FindStringSubmatch(l); m != nil && m[1] != "name" && m[1] != "Name" {
			want = append(want, row{m[1], m[2], m[3], m[4], ""})
		} else if m := birdcBGPState.FindStringSubmatch(l); m != nil && len(want) > 0 {
			want[len(want)-1].bgp = m[1]
			if loose {
				want[len(want)-1].bgp = connecting(m[1])
			}
		}
	}
	var got []row
	for _, p := range ps {
		r := row{p.Name, p.Kind, p.Table, p.State, ""}
		if p.BGP != nil {
			r.bgp = p.BGP.State
			if loose {
				r.bgp = connecting(r.bgp)
			}
		}
		got = append(got, r)
	}
	if len(got) != len(want) {
		return []string{fmt.Sprintf("parsed %d protocols, birdc shows %d:\n got %v\nwant %v", len(got), len(want), got, want)}
	}
	var diffs []string
	for i := range got {
		if got[i] != want[i] {
			diffs = append(diffs, fmt.Sprintf("protocol %d: parsed %+v, birdc shows %+v", i, got[i], want[i]))
		}
	}
	return diffs
}

func checkRoutesAgainstBirdc(t *testing.T, rs []Route, b []byte) {
	t.Helper()
	for _, d := range diffRoutesBirdc(rs, b) {
		t.Error(d)
	}
}

// diffRoutesBirdc compares prefix, protocol and primary flag of every route, in order.
func diffRoutesBirdc(rs []Route, b []byte) []string {
	type row struct {
		prefix, proto string
		primary       bool
	}
	var want []row
	prefix := ""
	for _, l := range birdcLines(b) {
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "Table ") {
			continue
		}
		m := birdcRoute.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if m[1] != "" {
			prefix = m[1]
		}
		want = append(want, row{prefix, m[3], m[5] != ""})
	}
	got := make([]row, len(rs))
	for i, r := range rs {
		got[i] = row{r.Prefix.String(), r.Protocol, r.Primary}
	}
	if len(got) != len(want) {
		return []string{fmt.Sprintf("parsed %d routes, birdc shows %d", len(got), len(want))}
	}
	var diffs []string
	for i := range got {
		if got[i] != want[i] && len(diffs) < 20 {
			diffs = append(diffs, fmt.Sprintf("route %d: parsed %+v, birdc shows %+v", i, got[i], want[i]))
		}
	}
	return diffs
}

func TestSameBIRDTime(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"2026-11-30 14:26:53", "2026-11-30 14:26:54", true},
		{"2026-11-30 14:26:54", "2026-11-30 14:26:53", true},
		{"2026-11-30 14:26:53", "2026-11-30 14:26:55", false},
		{"2026-11-30 14:26:59", "2026-11-30 14:27:00", true},
		{"14:26:53", "14:26:54", false}, // not a full date and time: compared as printed
		{"14:26:53", "14:26:53", true},
	} {
		if got := sameBIRDTime(tc.a, tc.b); got != tc.want {
			t.Errorf("sameBIRDTime(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
