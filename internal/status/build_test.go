package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// TestSessionState is the state-mapping table of doc.go: every word BIRD prints, and the fallbacks when
// it prints none.
func TestSessionState(t *testing.T) {
	tests := []struct {
		name                string
		protoState, info    string
		bgp                 bool
		bgpState, lastError string
		wantState           v3.BGPSessionState
		wantInfo            string
	}{
		{"established", "up", "Established", true, "Established", "", v3.BGPSessionStateEstablished, ""},
		{"established drops stale last error", "up", "Established", true, "Established", "Socket: Connection reset by peer", v3.BGPSessionStateEstablished, ""},
		{"idle", "start", "Idle          Error: Hold timer expired", true, "Idle", "Error: Hold timer expired", v3.BGPSessionStateIdle, "Error: Hold timer expired"},
		{"connect", "start", "Connect", true, "Connect", "", v3.BGPSessionStateConnect, ""},
		{"active with socket error", "start", "Active        Socket: Connection refused", true, "Active", "Socket: Connection refused", v3.BGPSessionStateActive, "Socket: Connection refused"},
		{"opensent", "start", "OpenSent", true, "OpenSent", "", v3.BGPSessionStateOpenSent, ""},
		{"openconfirm", "start", "OpenConfirm", true, "OpenConfirm", "", v3.BGPSessionStateOpenConfirm, ""},
		{"close", "stop", "Close", true, "Close", "", v3.BGPSessionStateClose, ""},
		{"passive", "start", "Passive", true, "Passive", "", v3.BGPSessionStateActive, "Passive"},
		{"passive with error", "start", "Passive       Socket: Connection closed", true, "Passive", "Socket: Connection closed", v3.BGPSessionStateActive, "Passive (Socket: Connection closed)"},
		{"down disabled", "down", "", true, "Down", "", v3.BGPSessionStateIdle, "Down (disabled)"},
		{"down after error", "down", "Automatic shutdown: Route limit exceeded", true, "Down", "Automatic shutdown: Route limit exceeded", v3.BGPSessionStateIdle, "Down (Automatic shutdown: Route limit exceeded)"},
		{"down, error only in info column", "down", "Error: Hold timer expired", true, "Down", "", v3.BGPSessionStateIdle, "Down (Error: Hold timer expired)"},
		{"start word", "start", "", true, "Start", "", v3.BGPSessionStateConnect, "Start"},
		{"lower-case words", "start", "active", true, "active", "", v3.BGPSessionStateActive, ""},
		{"unknown word", "start", "Dancing", true, "Dancing", "", "", "Dancing"},
		{"unknown word with error", "start", "Dancing Socket: x", true, "Dancing", "Socket: x", "", "Dancing (Socket: x)"},
		// No "BGP state:" line: the info column's first word, then the protocol state.
		{"no detail: info word", "start", "Active        Socket: Connection refused", false, "", "", v3.BGPSessionStateActive, "Socket: Connection refused"},
		{"no detail: passive in info", "start", "Passive", false, "", "", v3.BGPSessionStateActive, "Passive"},
		{"no detail: up", "up", "", false, "", "", v3.BGPSessionStateEstablished, ""},
		{"no detail: feed", "feed", "", false, "", "", v3.BGPSessionStateEstablished, ""},
		{"no detail: start", "start", "", false, "", "", v3.BGPSessionStateConnect, "Start"},
		{"no detail: stop", "stop", "", false, "", "", v3.BGPSessionStateClose, ""},
		{"no detail: down", "down", "", false, "", "", v3.BGPSessionStateIdle, "Down (disabled)"},
		{"no detail: down with error", "down", "Received: Cease", false, "", "", v3.BGPSessionStateIdle, "Down (Received: Cease)"},
		{"no detail: flush", "flush", "", false, "", "", v3.BGPSessionStateIdle, "Down (disabled)"},
		{"no detail: unknown protocol state", "???", "", false, "", "", "", ""},
		{"empty detail state falls back", "up", "Established", true, "", "", v3.BGPSessionStateEstablished, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := bird.Protocol{Name: "Mesh_10_0_0_2", Kind: "BGP", State: tc.protoState, Info: tc.info}
			if tc.bgp {
				p.BGP = &bird.BGPSession{State: tc.bgpState, LastError: tc.lastError}
			}
			state, info := sessionState(&p)
			if state != tc.wantState || info != tc.wantInfo {
				t.Errorf("sessionState(state %q, info %q, BGP state %q, last error %q) = (%q, %q), want (%q, %q)",
					tc.protoState, tc.info, tc.bgpState, tc.lastError, state, info, tc.wantState, tc.wantInfo)
			}
		})
	}
}

// TestSessionStateDefined: every value sessionState returns is one the CRD enum accepts (or "" for
// unknown), whatever the protocol and BGP state words are.
func TestSessionStateDefined(t *testing.T) {
	valid := map[v3.BGPSessionState]bool{"": true,
		v3.BGPSessionStateIdle: true, v3.BGPSessionStateConnect: true, v3.BGPSessionStateActive: true,
		v3.BGPSessionStateOpenSent: true, v3.BGPSessionStateOpenConfirm: true,
		v3.BGPSessionStateEstablished: true, v3.BGPSessionStateClose: true}
	words := []string{"", "up", "down", "start", "stop", "feed", "flush", "???", "Idle", "Connect", "Active",
		"OpenSent", "OpenConfirm", "Established", "Close", "Passive", "Down", "Start", "weird"}
	for _, ps := range words {
		for _, bs := range words {
			for _, info := range []string{"", bs, bs + " Socket: Connection refused"} {
				p := bird.Protocol{Kind: "BGP", State: ps, Info: info, BGP: &bird.BGPSession{State: bs}}
				if st, _ := sessionState(&p); !valid[st] {
					t.Errorf("sessionState(%q, %q, %q) = %q, not a contract value", ps, info, bs, st)
				}
			}
		}
	}
}

func TestSectionsPresence(t *testing.T) {
	A, B, R := v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes
	tests := []struct {
		classes            []v3.NodeStatusClassType
		agent, bgp, routes bool
	}{
		{nil, false, false, false},
		{[]v3.NodeStatusClassType{}, false, false, false},
		{[]v3.NodeStatusClassType{A}, true, false, false},
		{[]v3.NodeStatusClassType{B}, false, true, false},
		{[]v3.NodeStatusClassType{R}, false, false, true},
		{[]v3.NodeStatusClassType{R, A}, true, false, true},
		{[]v3.NodeStatusClassType{B, B}, false, true, false},
		{[]v3.NodeStatusClassType{A, B, R}, true, true, true},
		{[]v3.NodeStatusClassType{"agent", "Bogus"}, false, false, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.classes), func(t *testing.T) {
			got := Build(lab(), tc.classes, Options{})
			if (got.Agent != nil) != tc.agent || (got.BGP != nil) != tc.bgp || (got.Routes != nil) != tc.routes {
				t.Errorf("Build(classes %v): agent %t bgp %t routes %t, want %t %t %t", tc.classes,
					got.Agent != nil, got.BGP != nil, got.Routes != nil, tc.agent, tc.bgp, tc.routes)
			}
		})
	}
}

// TestDialectIssue: a daemon read in a decided dialect (its version unreadable) is said in one
// VersionUnrecognized issue per daemon, in the first section requested, and nothing else changes.
func TestDialectIssue(t *testing.T) {
	A, B, R := v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes
	plain := Build(lab(), []v3.NodeStatusClassType{A, B, R}, Options{})
	const note4, note6 = "BIRD version \"x\" (socket /b.ctl) not recognised: replies read as BIRD 1.x's, because ...", "v6 note"
	for _, tc := range []struct {
		name    string
		classes []v3.NodeStatusClassType
		edit    func(*bird.Snapshot)
		section string
		want    []v3.StatusIssue
	}{
		{"per family, agent", []v3.NodeStatusClassType{A, B, R}, func(s *bird.Snapshot) { s.V4.DialectNote, s.V6.DialectNote = note4, note6 }, "agent",
			[]v3.StatusIssue{{Family: v3.IPFamilyV4, Reason: v3.ReasonVersionUnrecognized, Message: note4}, {Family: v3.IPFamilyV6, Reason: v3.ReasonVersionUnrecognized, Message: note6}}},
		{"one daemon for both families, once", []v3.NodeStatusClassType{R, B}, func(s *bird.Snapshot) {
			s.V4.DialectNote, s.V6.DialectNote, s.V6.Socket = note4, note4, s.V4.Socket
		}, "bgp", []v3.StatusIssue{{Reason: v3.ReasonVersionUnrecognized, Message: note4}}},
		{"routes only", []v3.NodeStatusClassType{R}, func(s *bird.Snapshot) { s.V6.DialectNote = note6 }, "routes",
			[]v3.StatusIssue{{Family: v3.IPFamilyV6, Reason: v3.ReasonVersionUnrecognized, Message: note6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := lab()
			tc.edit(&s)
			got := Build(s, tc.classes, Options{})
			sections := map[string][]v3.StatusIssue{}
			if got.Agent != nil {
				sections["agent"] = got.Agent.Issues
			}
			if got.BGP != nil {
				sections["bgp"] = got.BGP.Issues
			}
			if got.Routes != nil {
				sections["routes"] = got.Routes.Issues
			}
			for name, is := range sections {
				want := []v3.StatusIssue(nil)
				if name == tc.section {
					want = tc.want
				}
				if !reflect.DeepEqual(is, want) {
					t.Errorf("%s issues %+v, want %+v", name, is, want)
				}
			}
			// Only the issue differs from the same snapshot without a note.
			if got.BGP != nil && !reflect.DeepEqual(got.BGP.PeersV4, plain.BGP.PeersV4) {
				t.Errorf("peers changed with the note")
			}
		})
	}
}

// shuffled returns s with every list of protocols, routes and next hops' owners in a random order.
func shuffled(s bird.Snapshot, r *rand.Rand) bird.Snapshot {
	for _, d := range []*bird.DaemonSnapshot{&s.V4, &s.V6} {
		d.Protocols = slices.Clone(d.Protocols)
		d.Routes = slices.Clone(d.Routes)
		r.Shuffle(len(d.Protocols), func(i, j int) { d.Protocols[i], d.Protocols[j] = d.Protocols[j], d.Protocols[i] })
		r.Shuffle(len(d.Routes), func(i, j int) { d.Routes[i], d.Routes[j] = d.Routes[j], d.Routes[i] })
		d.Warnings = slices.Clone(d.Warnings)
		r.Shuffle(len(d.Warnings), func(i, j int) { d.Warnings[i], d.Warnings[j] = d.Warnings[j], d.Warnings[i] })
	}
	return s
}

func TestDeterministic(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := Build(tc.snap(), tc.classes, tc.opts)
			for seed := range uint64(20) {
				r := rand.New(rand.NewPCG(seed, 42))
				got := Build(shuffled(tc.snap(), r), tc.classes, tc.opts)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d: shuffled input gives a different status:\n%s", seed,
						lineDiff(string(goldenYAML(t, want)), string(goldenYAML(t, got))))
				}
			}
		})
	}
}

// TestSorted checks the order rules directly: peers by IP, routes by destination then FIB before RIB.
func TestSorted(t *testing.T) {
	got := Build(shuffled(lab(), rand.New(rand.NewPCG(7, 7))), allClasses, Options{})
	for _, peers := range [][]v3.CalicoNodePeer{got.BGP.PeersV4, got.BGP.PeersV6} {
		if len(peers) < 2 {
			t.Fatalf("fixture has %d peers in a family, want several", len(peers))
		}
		if !slices.IsSortedFunc(peers, func(a, b v3.CalicoNodePeer) int {
			return netip.MustParseAddr(a.PeerIP).Compare(netip.MustParseAddr(b.PeerIP))
		}) {
			t.Errorf("peers not sorted by IP: %v", peerIPs(peers))
		}
	}
	for _, routes := range [][]v3.CalicoNodeRoute{got.Routes.RoutesV4, got.Routes.RoutesV6} {
		if !slices.IsSortedFunc(routes, func(a, b v3.CalicoNodeRoute) int {
			pa, pb := netip.MustParsePrefix(a.Destination), netip.MustParsePrefix(b.Destination)
			if c := pa.Addr().Compare(pb.Addr()); c != 0 {
				return c
			}
			if pa.Bits() != pb.Bits() {
				return pa.Bits() - pb.Bits()
			}
			return strings.Compare(string(a.Type), string(b.Type)) // FIB < RIB
		}) {
			t.Errorf("routes not sorted by destination, FIB first: %v", destinations(routes))
		}
	}
}

func peerIPs(ps []v3.CalicoNodePeer) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.PeerIP)
	}
	return out
}

func destinations(rs []v3.CalicoNodeRoute) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Destination+"/"+string(r.Type))
	}
	return out
}

// TestFamilyIsolation: whatever fails in one family, the other family's data is what it is when the
// first family is fine.
func TestFamilyIsolation(t *testing.T) {
	healthy := Build(lab(), allClasses, Options{})
	breaks := map[string]func(d *bird.DaemonSnapshot){
		"everything unreachable": func(d *bird.DaemonSnapshot) {
			*d = bird.DaemonSnapshot{Family: d.Family, StatusErr: errNoSocket, ProtocolsErr: errNoSocket, RoutesErr: errNoSocket}
		},
		"status only":    func(d *bird.DaemonSnapshot) { d.Status, d.StatusErr = nil, errRefused },
		"protocols only": func(d *bird.DaemonSnapshot) { d.Protocols, d.ProtocolsErr = nil, errRefused },
		"routes only":    func(d *bird.DaemonSnapshot) { d.Routes, d.RoutesErr = nil, errParse },
	}
	for name, brk := range breaks {
		t.Run(name+"/v4 broken", func(t *testing.T) {
			s := lab()
			brk(&s.V4)
			got := Build(s, allClasses, Options{})
			if !reflect.DeepEqual(got.Agent.BIRDV6, healthy.Agent.BIRDV6) ||
				!reflect.DeepEqual(got.BGP.PeersV6, healthy.BGP.PeersV6) ||
				got.BGP.NumberEstablishedV6 != healthy.BGP.NumberEstablishedV6 ||
				got.BGP.NumberNotEstablishedV6 != healthy.BGP.NumberNotEstablishedV6 ||
				!reflect.DeepEqual(got.Routes.RoutesV6, healthy.Routes.RoutesV6) ||
				got.Routes.TotalV6 != healthy.Routes.TotalV6 {
				t.Errorf("IPv4 failure changed IPv6 data")
			}
			assertIssuesOnlyFor(t, got, v3.IPFamilyV4)
		})
		t.Run(name+"/v6 broken", func(t *testing.T) {
			s := lab()
			brk(&s.V6)
			got := Build(s, allClasses, Options{})
			if !reflect.DeepEqual(got.Agent.BIRDV4, healthy.Agent.BIRDV4) ||
				!reflect.DeepEqual(got.BGP.PeersV4, healthy.BGP.PeersV4) ||
				got.BGP.NumberEstablishedV4 != healthy.BGP.NumberEstablishedV4 ||
				!reflect.DeepEqual(got.Routes.RoutesV4, healthy.Routes.RoutesV4) ||
				got.Routes.TotalV4 != healthy.Routes.TotalV4 {
				t.Errorf("IPv6 failure changed IPv4 data")
			}
			assertIssuesOnlyFor(t, got, v3.IPFamilyV6)
		})
	}
}

func assertIssuesOnlyFor(t *testing.T, s Sections, fam v3.IPFamily) {
	t.Helper()
	all := slices.Concat(s.Agent.Issues, s.BGP.Issues, s.Routes.Issues)
	if len(all) == 0 {
		t.Errorf("no issue reported for the broken family %s", fam)
	}
	for _, is := range all {
		if is.Family != fam {
			t.Errorf("issue for %q, want only %s: %+v", is.Family, fam, is)
		}
	}
}

func TestErrorReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{errNoSocket, v3.ReasonDaemonUnreachable},
		{errRefused, v3.ReasonDaemonUnreachable},
		{errCut, v3.ReasonDaemonUnreachable},
		{errTruncEOF, v3.ReasonDaemonUnreachable},
		{fmt.Errorf("read: %w", io.EOF), v3.ReasonDaemonUnreachable},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), v3.ReasonDaemonUnreachable},
		{fmt.Errorf("dial: %w", os.ErrPermission), v3.ReasonDaemonUnreachable},
		{fmt.Errorf("collect: %w", context.DeadlineExceeded), v3.ReasonDaemonUnreachable},
		{&net.OpError{Op: "read", Net: "unix", Err: errors.New("boom")}, v3.ReasonDaemonUnreachable},
		{fmt.Errorf("bird %q: line 12: %w", "show route", bird.ErrTruncated), v3.ReasonDaemonUnreachable},
		{fmt.Errorf("bird %q: line 9: %w", "show route", bird.ErrReplyTooLarge), ReasonCollectionFailed},
		{fmt.Errorf("bird %q: line 1: %w", "show route", bird.ErrProtocol), ReasonCollectionFailed},
		{&bird.ReplyError{Command: "show route", Code: 9001, Text: "syntax error"}, ReasonCollectionFailed},
		{fmt.Errorf("%w: read", context.Canceled), ReasonCollectionFailed},
		{errParse, ReasonCollectionFailed},
		{errors.New("reply code 9001: syntax error"), ReasonCollectionFailed},
		{fmt.Errorf("wrapped: %w", unreachable(true)), v3.ReasonDaemonUnreachable},
		{fmt.Errorf("wrapped: %w", unreachable(false)), ReasonCollectionFailed},
		// The error's own word wins over what it wraps.
		{fmt.Errorf("wrapped: %w", wrapUnreachable{false, io.EOF}), ReasonCollectionFailed},
	}
	for _, tc := range tests {
		if got := ErrorReason(tc.err); got != tc.want {
			t.Errorf("ErrorReason(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

type unreachable bool

func (u unreachable) Error() string     { return fmt.Sprintf("unreachable=%t", bool(u)) }
func (u unreachable) Unreachable() bool { return bool(u) }

type wrapUnreachable struct {
	u   bool
	err error
}

func (w wrapUnreachable) Error() string     { return w.err.Error() }
func (w wrapUnreachable) Unwrap() error     { return w.err }
func (w wrapUnreachable) Unreachable() bool { return w.u }

func TestClampMessage(t *testing.T) {
	tests := []string{
		"",
		"short",
		strings.Repeat("a", MaxIssueMessageBytes),
		strings.Repeat("a", MaxIssueMessageBytes+1),
		strings.Repeat("é", MaxIssueMessageBytes),
		strings.Repeat("a", 1021) + "日本語",
		"bad \xff\xfe utf8 " + strings.Repeat("b", 2000),
	}
	for _, in := range tests {
		got := clampMessage(in)
		if len(got) > MaxIssueMessageBytes || !utf8.ValidString(got) {
			t.Errorf("clampMessage(%d bytes) = %d bytes, valid UTF-8 %t", len(in), len(got), utf8.ValidString(got))
		}
		if utf8.ValidString(in) && len(in) <= MaxIssueMessageBytes && got != in {
			t.Errorf("clampMessage changed a message within the limit: %q -> %q", in, got)
		}
		if len(in) > MaxIssueMessageBytes && !strings.HasSuffix(got, "…") {
			t.Errorf("clampMessage(%d bytes) cut without marking it: %q", len(in), got[len(got)-10:])
		}
	}
}

func TestCapIssues(t *testing.T) {
	for _, n := range []int{0, 1, MaxIssuesPerSection, MaxIssuesPerSection + 1, 20} {
		var in []v3.StatusIssue
		for i := range n {
			in = append(in, v3.StatusIssue{Family: v3.IPFamilyV4, Reason: v3.ReasonPartialParse, Message: fmt.Sprint(i)})
		}
		got := capIssues(in)
		if len(got) > MaxIssuesPerSection {
			t.Errorf("capIssues(%d) kept %d", n, len(got))
		}
		if n == 0 && got != nil {
			t.Errorf("capIssues(nil) = %#v, want nil", got)
		}
		if n > MaxIssuesPerSection && !strings.Contains(got[len(got)-1].Message, fmt.Sprint(n-MaxIssuesPerSection+1)) {
			t.Errorf("capIssues(%d): last issue %q does not say how many were dropped", n, got[len(got)-1].Message)
		}
		if n <= MaxIssuesPerSection && !reflect.DeepEqual(got, in) {
			t.Errorf("capIssues(%d) changed a list within the cap", n)
		}
	}
}

// TestWarningsIssue: one issue per family and section, with the count and the first line.
func TestWarningsIssue(t *testing.T) {
	ws := []bird.Warning{
		{Command: "show route all", Line: 40, Text: "later"},
		{Command: "show route all", Line: 17, Text: "first route line", Err: "bad prefix"},
		{Command: "show protocols all", Line: 3, Text: "protocol line"},
		{Command: "show status", Line: 2, Text: "status line"},
		{Command: "show memory", Line: 1, Text: "unattributed"},
	}
	tests := []struct {
		sec       warnSection
		wantCount int
		wantFirst string
	}{
		{warnRoutes, 3, `"show memory" line 1: "unattributed"`},
		{warnBGP, 2, `"show memory" line 1`},
		{warnAgent, 2, `"show memory" line 1`},
	}
	for _, tc := range tests {
		is, ok := warningsIssue(v3.IPFamilyV6, ws, tc.sec)
		if !ok || is.Reason != v3.ReasonPartialParse || is.Family != v3.IPFamilyV6 {
			t.Fatalf("warningsIssue(section %d) = %+v, %t", tc.sec, is, ok)
		}
		if !strings.HasPrefix(is.Message, fmt.Sprintf("%d unparsable lines", tc.wantCount)) || !strings.Contains(is.Message, tc.wantFirst) {
			t.Errorf("warningsIssue(section %d) message %q, want count %d and first %s", tc.sec, is.Message, tc.wantCount, tc.wantFirst)
		}
	}
	routesOnly := ws[:2]
	is, _ := warningsIssue(v3.IPFamilyV4, routesOnly, warnRoutes)
	if !strings.Contains(is.Message, `line 17: "first route line": bad prefix`) {
		t.Errorf("message %q does not name the lowest line with its error", is.Message)
	}
	if _, ok := warningsIssue(v3.IPFamilyV4, routesOnly, warnAgent); ok {
		t.Errorf("route warnings reported in the Agent section")
	}
	if _, ok := warningsIssue(v3.IPFamilyV4, nil, warnRoutes); ok {
		t.Errorf("an issue without warnings")
	}
	long := []bird.Warning{{Command: "show route all", Line: 1, Text: strings.Repeat("x", 5000), Err: "the error"}}
	is, _ = warningsIssue(v3.IPFamilyV4, long, warnRoutes)
	if len(is.Message) > MaxIssueMessageBytes || !strings.HasSuffix(is.Message, ": the error") {
		t.Errorf("long line: message of %d bytes, ends %q; want ≤ %d bytes ending with the error",
			len(is.Message), is.Message[max(0, len(is.Message)-20):], MaxIssueMessageBytes)
	}
}

// TestRouteSource: each protocol kind and name maps to its source type, and BGP routes to their peer.
func TestRouteSource(t *testing.T) {
	mesh := bgpProto("Mesh_10_0_0_2", "up", "Established", "Established", "10.0.0.2", "", 0, 0)
	node := bgpProto("Node_10_0_0_20", "up", "Established", "Established", "10.0.0.20", "", 0, 0)
	global := bgpProto("Global_10_0_0_254", "up", "Established", "Established", "10.0.0.254", "", 0, 0)
	other := bgpProto("tor", "up", "Established", "Established", "10.0.0.200", "", 0, 0)
	ll := bgpProto("Mesh_fe80__1", "up", "Established", "Established", "fe80::1%eth0", "", 0, 0)
	protos := []bird.Protocol{
		proto("kernel1", "Kernel", "up", ""), proto("k2", "kernel", "up", ""),
		proto("static1", "Static", "up", ""), proto("direct1", "Direct", "up", ""),
		proto("device1", "Device", "up", ""), proto("pipe1", "Pipe", "up", ""),
		mesh, node, global, other, ll,
	}
	tests := []struct {
		protocol, from string
		protos         []bird.Protocol
		want           v3.CalicoNodeRouteLearnedFrom
	}{
		{"kernel1", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeKernel}},
		{"k2", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeKernel}},
		{"static1", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeStatic}},
		{"direct1", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeDirect}},
		{"device1", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeDirect}},
		{"pipe1", "", protos, v3.CalicoNodeRouteLearnedFrom{}},
		{"Mesh_10_0_0_2", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeNodeMesh, PeerIP: "10.0.0.2"}},
		{"Mesh_10_0_0_2", "10.0.0.99", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeNodeMesh, PeerIP: "10.0.0.99"}},
		{"Node_10_0_0_20", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeBGPPeer, PeerIP: "10.0.0.20"}},
		{"Global_10_0_0_254", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeBGPPeer, PeerIP: "10.0.0.254"}},
		{"tor", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeBGPPeer, PeerIP: "10.0.0.200"}},
		{"Mesh_fe80__1", "", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeNodeMesh, PeerIP: "fe80::1"}},
		{"Mesh_fe80__1", "fe80::1%eth0", protos, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeNodeMesh, PeerIP: "fe80::1"}},
		{"nowhere", "", protos, v3.CalicoNodeRouteLearnedFrom{}},
		// Protocols unknown (show protocols failed): the name decides, as in Calico.
		{"kernel1", "", nil, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeKernel}},
		{"static1", "", nil, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeStatic}},
		{"direct1", "", nil, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeDirect}},
		{"device1", "", nil, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeDirect}},
		{"Mesh_10_0_0_2", "", nil, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeNodeMesh}},
		{"Mesh_10_0_0_2", "10.0.0.2", nil, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeNodeMesh, PeerIP: "10.0.0.2"}},
		{"Node_10_0_0_20", "", nil, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeBGPPeer}},
		{"Global_10_0_0_254", "", nil, v3.CalicoNodeRouteLearnedFrom{SourceType: v3.RouteSourceTypeBGPPeer}},
		{"tor", "", nil, v3.CalicoNodeRouteLearnedFrom{}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/from=%s/protocols=%t", tc.protocol, tc.from, tc.protos != nil), func(t *testing.T) {
			r := route("10.1.0.0/16", tc.protocol, true, hop("10.0.0.2", "eth0"))
			if tc.from != "" {
				r.From = addr(tc.from)
			}
			s := bird.Snapshot{V4: bird.DaemonSnapshot{Protocols: tc.protos, Routes: []bird.Route{r}}}
			if tc.protos == nil {
				s.V4.ProtocolsErr = errRefused
			}
			got := Build(s, []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes}, Options{})
			if len(got.Routes.RoutesV4) != 1 || got.Routes.RoutesV4[0].LearnedFrom != tc.want {
				t.Errorf("learnedFrom = %+v, want %+v", got.Routes.RoutesV4, tc.want)
			}
		})
	}
}

// TestRouteShape: gateway, interface and next hops for each kind of route.
func TestRouteShape(t *testing.T) {
	ecmp := route("10.2.0.0/16", "static1", true, hop("10.0.0.2", "eth0"), hop("", "eth1"), hop("10.0.0.4", "eth2"))
	ecmp.NextHops[2].Weight = 3
	var many []bird.NextHop
	for i := range 70 {
		many = append(many, hop(fmt.Sprintf("10.0.1.%d", i+1), "eth0"))
	}
	blackholeWithHop := dropRoute("10.3.0.0/16", "static1", bird.RouteProhibit)
	blackholeWithHop.NextHops = []bird.NextHop{hop("10.0.0.9", "eth9")}
	tests := []struct {
		name           string
		r              bird.Route
		gateway, iface string
		nextHops       int
	}{
		{"via", route("10.1.0.0/16", "static1", true, hop("10.0.0.2", "eth0")), "10.0.0.2", "eth0", 0},
		{"dev", route("10.1.0.0/16", "static1", true, hop("", "eth0")), "N/A", "eth0", 0},
		{"no hop at all", route("10.1.0.0/16", "static1", true), "N/A", "", 0},
		{"v6 link-local gateway loses its zone", route("fd00::/64", "static1", true, hop("fe80::1%eth0", "eth0")), "fe80::1", "eth0", 0},
		{"blackhole", dropRoute("10.1.0.0/16", "static1", bird.RouteBlackhole), "N/A", "blackhole", 0},
		{"unreachable", dropRoute("10.1.0.0/16", "static1", bird.RouteUnreachable), "N/A", "unreachable", 0},
		{"prohibit", dropRoute("10.1.0.0/16", "static1", bird.RouteProhibit), "N/A", "prohibit", 0},
		{"prohibit ignores a stray hop", blackholeWithHop, "N/A", "prohibit", 0},
		{"multipath", ecmp, "10.0.0.2", "eth0", 3},
		{"multipath capped at the CRD's 64", route("10.4.0.0/16", "static1", true, many...), "10.0.1.1", "eth0", maxNextHops},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mapRoute(&tc.r, source{typ: v3.RouteSourceTypeStatic}, nil)
			if got.Gateway != tc.gateway || got.Interface != tc.iface || len(got.NextHops) != tc.nextHops {
				t.Errorf("mapRoute = gateway %q interface %q %d next hops, want %q %q %d",
					got.Gateway, got.Interface, len(got.NextHops), tc.gateway, tc.iface, tc.nextHops)
			}
			if tc.nextHops == 0 && got.NextHops != nil {
				t.Errorf("nextHops = %#v, want nil", got.NextHops)
			}
			for i, h := range got.NextHops {
				in := tc.r.NextHops[i]
				if h.Interface != in.Interface || h.Weight != int32(in.Weight) || (h.Gateway == "N/A") == in.Gateway.IsValid() {
					t.Errorf("next hop %d = %+v, from %+v", i, h, in)
				}
			}
		})
	}
}

// TestRouteType: FIB is the selected route BIRD exported to the kernel; a selected route the kernel refused
// ('!', SyncError) forwards nothing and is RIB, like every route BIRD did not select.
func TestRouteType(t *testing.T) {
	refused := route("10.5.0.0/16", "static1", true, hop("10.0.0.2", "eth0"))
	refused.SyncError = true
	tests := []struct {
		name string
		r    bird.Route
		want v3.CalicoNodeRouteType
	}{
		{"selected", route("10.5.0.0/16", "static1", true, hop("10.0.0.2", "eth0")), v3.RouteTypeFIB},
		{"not selected", route("10.5.0.0/16", "static1", false, hop("10.0.0.2", "eth0")), v3.RouteTypeRIB},
		{"selected but refused by the kernel", refused, v3.RouteTypeRIB},
	}
	for _, tc := range tests {
		if got := mapRoute(&tc.r, source{typ: v3.RouteSourceTypeStatic}, nil).Type; got != tc.want {
			t.Errorf("%s: type %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestTruncation: the kept routes are FIB first, in route order, within both caps; totals are real.
func TestTruncation(t *testing.T) {
	big := bigSnapshot(3000, 4)
	for _, opts := range []Options{
		{}, {MaxRoutesPerFamily: 1}, {MaxRoutesPerFamily: 100}, {MaxRoutesPerFamily: 2999},
		{MaxRoutesPerFamily: 2500}, {MaxRoutesPerFamily: -1}, {MaxRouteBytesPerFamily: 10 << 10},
		{MaxRoutesPerFamily: -1, MaxRouteBytesPerFamily: -1}, {MaxRouteBytesPerFamily: 100},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			got := Build(big, []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes}, opts).Routes
			for fi, d := range []bird.DaemonSnapshot{big.V4, big.V6} {
				routes, total := got.RoutesV4, got.TotalV4
				if fi == 1 {
					routes, total = got.RoutesV6, got.TotalV6
				}
				if total != len(d.Routes) {
					t.Errorf("total %d, want %d", total, len(d.Routes))
				}
				if len(routes) > opts.maxRoutes() {
					t.Errorf("%d routes kept, cap %d", len(routes), opts.maxRoutes())
				}
				b, _ := json.Marshal(routes)
				if routes != nil && len(b) > opts.maxRouteBytes() {
					t.Errorf("%d bytes of routes kept, cap %d", len(b), opts.maxRouteBytes())
				}
				cut := len(routes) < len(d.Routes)
				if cut != got.Truncated {
					t.Errorf("truncated %t but %d of %d routes kept", got.Truncated, len(routes), len(d.Routes))
				}
				// Every RIB route kept means every FIB route kept.
				fib, rib := 0, 0
				for _, r := range d.Routes {
					if r.Primary {
						fib++
					}
				}
				for _, r := range routes {
					if r.Type == v3.RouteTypeRIB {
						rib++
					}
				}
				if rib > 0 && len(routes)-rib != fib {
					t.Errorf("%d RIB routes kept but only %d of %d FIB routes", rib, len(routes)-rib, fib)
				}
				// The kept routes are the first ones of the full, uncapped list (per type), in its order.
				full := Build(bird.Snapshot{V4: d}, []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes},
					Options{MaxRoutesPerFamily: -1, MaxRouteBytesPerFamily: -1}).Routes.RoutesV4
				var wantFIB, wantRIB []v3.CalicoNodeRoute
				for _, r := range full {
					if r.Type == v3.RouteTypeFIB {
						wantFIB = append(wantFIB, r)
					} else {
						wantRIB = append(wantRIB, r)
					}
				}
				var gotFIB, gotRIB []v3.CalicoNodeRoute
				for _, r := range routes {
					if r.Type == v3.RouteTypeFIB {
						gotFIB = append(gotFIB, r)
					} else {
						gotRIB = append(gotRIB, r)
					}
				}
				if (len(gotFIB) > 0 && !reflect.DeepEqual(gotFIB, wantFIB[:len(gotFIB)])) || (len(gotRIB) > 0 && !reflect.DeepEqual(gotRIB, wantRIB[:len(gotRIB)])) {
					t.Errorf("kept routes are not the first FIB, then RIB routes of the full list")
				}
				pos := make(map[string]int, len(full))
				for i, r := range full {
					pos[fmt.Sprint(r)] = i
				}
				if !slices.IsSortedFunc(routes, func(a, b v3.CalicoNodeRoute) int {
					return pos[fmt.Sprint(a)] - pos[fmt.Sprint(b)]
				}) {
					t.Errorf("kept routes not in route order")
				}
			}
			var truncIssues int
			for _, is := range got.Issues {
				if is.Reason == v3.ReasonRoutesTruncated {
					truncIssues++
				}
			}
			wantIssues := 0
			if len(got.RoutesV4) < got.TotalV4 {
				wantIssues++
			}
			if len(got.RoutesV6) < got.TotalV6 {
				wantIssues++
			}
			if truncIssues != wantIssues {
				t.Errorf("%d RoutesTruncated issues, want %d: %+v", truncIssues, wantIssues, got.Issues)
			}
		})
	}
}

// TestNilNotEmpty: lists with nothing in them are nil, not empty slices.
func TestNilNotEmpty(t *testing.T) {
	s := bird.Snapshot{
		V4: bird.DaemonSnapshot{Status: status("1.6.8", true), Protocols: []bird.Protocol{proto("kernel1", "Kernel", "up", "")}, Routes: []bird.Route{}},
		V6: bird.DaemonSnapshot{Status: status("1.6.8", true), Protocols: []bird.Protocol{}, Warnings: []bird.Warning{}},
	}
	got := Build(s, allClasses, Options{})
	if got.Agent.Issues != nil || got.BGP.Issues != nil || got.Routes.Issues != nil ||
		got.BGP.PeersV4 != nil || got.BGP.PeersV6 != nil || got.Routes.RoutesV4 != nil || got.Routes.RoutesV6 != nil {
		t.Errorf("empty lists are not nil: %#v %#v %#v", got.Agent, got.BGP, got.Routes)
	}
	tiny := Build(lab(), []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes}, Options{MaxRouteBytesPerFamily: 10}).Routes
	if tiny.RoutesV4 != nil || !tiny.Truncated {
		t.Errorf("a budget too small for one route: routes %#v truncated %t, want nil and true", tiny.RoutesV4, tiny.Truncated)
	}
}

// TestRouteJSONSize: the size estimate the byte cap relies on is encoding/json's size.
func TestRouteJSONSize(t *testing.T) {
	var routes []v3.CalicoNodeRoute
	for _, tc := range goldenCases() {
		got := Build(tc.snap(), allClasses, Options{MaxRoutesPerFamily: -1, MaxRouteBytesPerFamily: -1})
		routes = append(routes, got.Routes.RoutesV4...)
		routes = append(routes, got.Routes.RoutesV6...)
	}
	routes = append(routes, v3.CalicoNodeRoute{}, v3.CalicoNodeRoute{
		Interface: "we<ir>d&\"\\\n\x01é\u2028\xff",
		NextHops:  []v3.CalicoNodeRouteNextHop{{}, {Weight: -7}, {Gateway: "x", Weight: 1 << 30}},
	})
	if len(routes) < 20 {
		t.Fatalf("only %d routes to check", len(routes))
	}
	for _, r := range routes {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := routeJSONSize(&r); got != len(b) {
			t.Errorf("routeJSONSize = %d, json.Marshal gives %d bytes: %s", got, len(b), b)
		}
	}
}

func FuzzJSONStringSize(f *testing.F) {
	for _, s := range []string{"", "eth0", "a\"b\\c", "<>&", "\x00\x1f\t\n\r\b\f", "é日本\u2028\u2029", "\xff\xfe\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonStringSize(s); got != len(b) {
			t.Errorf("jsonStringSize(%q) = %d, json.Marshal gives %d: %s", s, got, len(b), b)
		}
	})
}

// TestPeers: peer IP without zone, zone kept, every BGP protocol listed and counted, others not.
func TestPeers(t *testing.T) {
	got := Build(lab(), []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, Options{}).BGP
	want := map[string]struct {
		ip, zone string
		typ      v3.BGPPeerType
	}{
		"Mesh_fe80__2":      {"fe80::2", "eth0", v3.BGPPeerTypeNodeMesh},
		"Mesh_fe80__3":      {"fe80::3", "eth1", v3.BGPPeerTypeNodeMesh},
		"Mesh_fd00__2":      {"fd00::2", "", v3.BGPPeerTypeNodeMesh},
		"Node_fd00__20":     {"fd00::20", "", v3.BGPPeerTypeNodePeer},
		"Global_10_0_0_254": {"10.0.0.254", "", v3.BGPPeerTypeGlobalPeer},
		"upstream1":         {"10.0.0.100", "", ""},
	}
	all := slices.Concat(got.PeersV4, got.PeersV6)
	for _, p := range all {
		if strings.ContainsAny(p.PeerIP, "%_") {
			t.Errorf("peer IP %q is not a clean address", p.PeerIP)
		}
		if w, ok := want[p.Protocol]; ok && (p.PeerIP != w.ip || p.Zone != w.zone || p.Type != w.typ) {
			t.Errorf("%s: peer %q zone %q type %q, want %q %q %q", p.Protocol, p.PeerIP, p.Zone, p.Type, w.ip, w.zone, w.typ)
		}
	}
	s := lab()
	var bgpV4, bgpV6 int
	for _, p := range s.V4.Protocols {
		if p.Kind == "BGP" {
			bgpV4++
		}
	}
	for _, p := range s.V6.Protocols {
		if p.Kind == "BGP" {
			bgpV6++
		}
	}
	if len(got.PeersV4) != bgpV4 || len(got.PeersV6) != bgpV6 {
		t.Errorf("%d/%d peers, want every BGP protocol: %d/%d", len(got.PeersV4), len(got.PeersV6), bgpV4, bgpV6)
	}
	if got.NumberEstablishedV4+got.NumberNotEstablishedV4 != bgpV4 || got.NumberEstablishedV6+got.NumberNotEstablishedV6 != bgpV6 {
		t.Errorf("counts %+v do not add up to the peers", got)
	}
	var est int
	for _, p := range got.PeersV4 {
		if p.State == v3.BGPSessionStateEstablished {
			est++
			if p.Info != "" {
				t.Errorf("%s Established with info %q", p.Protocol, p.Info)
			}
		}
	}
	if est != got.NumberEstablishedV4 {
		t.Errorf("numberEstablishedV4 %d, %d peers Established", got.NumberEstablishedV4, est)
	}
}

// bigSnapshot is n routes per family from a mesh of peers, one in every ribEvery a RIB alternative, for
// the truncation test and the benchmark.
func bigSnapshot(n, ribEvery int) bird.Snapshot {
	mk := func(fam bird.Family) bird.DaemonSnapshot {
		d := bird.DaemonSnapshot{Family: fam, Status: status("2.0.12", true)}
		d.Protocols = append(d.Protocols, proto("kernel1", "Kernel", "up", ""), proto("static1", "Static", "up", ""))
		var peers []netip.Addr
		for i := range 16 {
			a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 2)})
			if fam == bird.IPv6 {
				a = netip.AddrFrom16([16]byte{0: 0xfd, 15: byte(i + 2)})
			}
			peers = append(peers, a)
			d.Protocols = append(d.Protocols, bgpProto("Mesh_"+strings.NewReplacer(".", "_", ":", "_").Replace(a.String()),
				"up", "Established", "Established", a.String(), "", int64(n/16), 10))
		}
		for i := range n {
			var p netip.Prefix
			if fam == bird.IPv4 {
				p = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(16 + i>>16), byte(i >> 8), byte(i)}), 32)
			} else {
				p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x10, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}), 128)
			}
			peer := peers[i%len(peers)]
			r := bird.Route{Prefix: p, Primary: true, Protocol: d.Protocols[2+i%len(peers)].Name,
				NextHops: []bird.NextHop{{Gateway: peer, Interface: "eth0"}}, Since: "09:00:00"}
			switch {
			case i%97 == 0:
				r.Kind, r.NextHops, r.Protocol = bird.RouteBlackhole, nil, "static1"
			case ribEvery > 0 && i%ribEvery == 0:
				// The RIB alternative comes in the reply before the selected one, as it may.
				alt := r
				alt.Primary = false
				alt.Protocol = d.Protocols[2+(i+1)%len(peers)].Name
				alt.NextHops = []bird.NextHop{{Gateway: peers[(i+1)%len(peers)], Interface: "eth1"}}
				d.Routes = append(d.Routes, alt)
			}
			d.Routes = append(d.Routes, r)
		}
		return d
	}
	return bird.Snapshot{V4: mk(bird.IPv4), V6: mk(bird.IPv6)}
}

func BenchmarkBuild100k(b *testing.B) {
	s := bigSnapshot(100_000, 10)
	s.V6 = bird.DaemonSnapshot{}
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"default cap", Options{}},
		{"uncapped", Options{MaxRoutesPerFamily: -1, MaxRouteBytesPerFamily: -1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out := Build(s, allClasses, bc.opts)
				if out.Routes.TotalV4 != len(s.V4.Routes) {
					b.Fatalf("total %d", out.Routes.TotalV4)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(s.V4.Routes)), "ns/route")
		})
	}
}

// FuzzBuild maps random snapshots (structure from seed, strings from words) and checks what must hold
// for any BIRD output: no panic, CRD limits on issues, contract values for states, caps and totals,
// valid UTF-8, an order that does not depend on the input's.
func FuzzBuild(f *testing.F) {
	f.Add(uint64(1), "Mesh_10_0_0_2 BGP up Established Active Passive Down start", int16(0), int32(0))
	f.Add(uint64(2), "kernel1\xff Static Device Direct Pipe Node_x Global_y \u2028", int16(3), int32(400))
	f.Add(uint64(3), "", int16(-1), int32(-1))
	f.Fuzz(func(t *testing.T, seed uint64, words string, capN int16, capB int32) {
		r := rand.New(rand.NewPCG(seed, uint64(len(words))))
		ws := strings.Fields(words)
		ws = append(ws, "BGP", "Kernel", "Static", "Direct", "Device", "up", "down", "start", "Established", "Passive", "Mesh_a", "Node_b", "")
		word := func() string { return ws[r.IntN(len(ws))] }
		anAddr := func() netip.Addr {
			switch r.IntN(4) {
			case 0:
				return netip.Addr{}
			case 1:
				return netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(3)), byte(r.IntN(4))})
			case 2:
				return netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(r.IntN(4))}).WithZone(word())
			}
			return netip.AddrFrom16([16]byte{0: 0xfd, 15: byte(r.IntN(4))})
		}
		mk := func() bird.DaemonSnapshot {
			var d bird.DaemonSnapshot
			if r.IntN(4) > 0 {
				d.Status = &bird.Status{Version: word(), RouterID: word(), Up: r.IntN(2) == 0}
			}
			errs := []error{nil, nil, nil, errRefused, errParse, bird.ErrNoSocket, errCut}
			d.StatusErr, d.ProtocolsErr, d.RoutesErr = errs[r.IntN(len(errs))], errs[r.IntN(len(errs))], errs[r.IntN(len(errs))]
			for range r.IntN(12) {
				p := bird.Protocol{Name: word(), Kind: word(), State: word(), Info: word() + " " + word(), Since: word()}
				if r.IntN(3) > 0 {
					p.BGP = &bird.BGPSession{State: word(), Neighbor: anAddr(), Interface: word(), LastError: word(),
						HoldTime: time.Duration(r.Int64()), NeighborAS: r.Uint32()}
				}
				d.Protocols = append(d.Protocols, p)
			}
			for range r.IntN(40) {
				a := anAddr()
				if !a.IsValid() {
					a = netip.IPv4Unspecified()
				}
				rt := bird.Route{Prefix: netip.PrefixFrom(a.WithZone(""), r.IntN(a.BitLen()+1)).Masked(), Kind: bird.RouteKind(r.IntN(5)),
					Primary: r.IntN(3) > 0, Protocol: word(), From: anAddr()}
				for range r.IntN(4) {
					rt.NextHops = append(rt.NextHops, bird.NextHop{Gateway: anAddr(), Interface: word(), Weight: r.IntN(300) - 10})
				}
				d.Routes = append(d.Routes, rt)
			}
			for range r.IntN(3) {
				d.Warnings = append(d.Warnings, bird.Warning{Command: word() + " " + word(), Line: r.IntN(100), Text: words, Err: word()})
			}
			return d
		}
		s := bird.Snapshot{V4: mk(), V6: mk()}
		opts := Options{MaxRoutesPerFamily: int(capN), MaxRouteBytesPerFamily: int(capB),
			MaxStatusBytes: []int{0, -1, 6000, 20000}[seed%4]}
		got := Build(s, allClasses, opts)
		if b, _ := json.Marshal(got); len(b) > opts.maxStatusBytes() && fixedJSONSize(&got)+budgetSlack <= opts.maxStatusBytes() {
			t.Errorf("status of %d bytes over the budget of %d", len(b), opts.maxStatusBytes())
		}

		valid := map[v3.BGPSessionState]bool{"": true, "Idle": true, "Connect": true, "Active": true,
			"OpenSent": true, "OpenConfirm": true, "Established": true, "Close": true}
		for _, is := range slices.Concat(got.Agent.Issues, got.BGP.Issues, got.Routes.Issues) {
			if len(is.Message) > MaxIssueMessageBytes || !utf8.ValidString(is.Message) || is.Reason == "" {
				t.Errorf("issue %+v breaks the CRD's limits", is)
			}
		}
		for _, is := range [][]v3.StatusIssue{got.Agent.Issues, got.BGP.Issues, got.Routes.Issues} {
			if len(is) > MaxIssuesPerSection {
				t.Errorf("%d issues in a section", len(is))
			}
		}
		for _, p := range slices.Concat(got.BGP.PeersV4, got.BGP.PeersV6) {
			if !valid[p.State] || strings.Contains(p.PeerIP, "%") {
				t.Errorf("peer %+v", p)
			}
		}
		for fi, routes := range [][]v3.CalicoNodeRoute{got.Routes.RoutesV4, got.Routes.RoutesV6} {
			d, total := s.V4, got.Routes.TotalV4
			if fi == 1 {
				d, total = s.V6, got.Routes.TotalV6
			}
			if d.RoutesErr == nil && total != len(d.Routes) {
				t.Errorf("total %d of %d routes", total, len(d.Routes))
			}
			if len(routes) > opts.maxRoutes() || len(routes) > total {
				t.Errorf("%d routes listed, cap %d, total %d", len(routes), opts.maxRoutes(), total)
			}
			if b, _ := json.Marshal(routes); routes != nil && len(b) > opts.maxRouteBytes() {
				t.Errorf("%d bytes listed, cap %d", len(b), opts.maxRouteBytes())
			}
			for _, rt := range routes {
				if len(rt.NextHops) > maxNextHops || rt.Gateway == "" || strings.Contains(rt.Gateway+rt.LearnedFrom.PeerIP, "%") {
					t.Errorf("route %+v", rt)
				}
			}
		}
		if again := Build(shuffled(s, rand.New(rand.NewPCG(seed, 7))), allClasses, opts); !reflect.DeepEqual(again, got) {
			t.Errorf("shuffled snapshot maps differently")
		}
		// The Collector streams routes into a selection of the status's cap: it must map alike.
		if k := opts.maxRoutes(); k <= 1<<16 {
			if sel := Build(selected(s, k), allClasses, opts); !reflect.DeepEqual(sel, got) {
				t.Errorf("snapshot selected at %d routes maps differently", k)
			}
		}
	})
}

// TestPeerCap: a node with more sessions than the cap lists the sessions not established first, keeps the
// list sorted by peer IP, counts every session, and says the list was cut.
func TestPeerCap(t *testing.T) {
	var protos []bird.Protocol
	for i := 1; i <= 10; i++ {
		ip := fmt.Sprintf("10.0.0.%d", i)
		name := "Mesh_10_0_0_" + fmt.Sprint(i)
		if i%4 == 0 { // 10.0.0.4 and 10.0.0.8 are down
			protos = append(protos, bgpProto(name, "start", "Active Socket: Connection refused", "Active", ip, "Socket: Connection refused", 0, 0))
		} else {
			protos = append(protos, bgpProto(name, "up", "Established", "Established", ip, "", 1, 1))
		}
	}
	snap := bird.Snapshot{V4: bird.DaemonSnapshot{Family: bird.IPv4, Protocols: protos}, V6: bird.DaemonSnapshot{Family: bird.IPv6, ProtocolsErr: bird.ErrNoSocket}}
	bgp := Build(snap, []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, Options{MaxPeersPerFamily: 4}).BGP

	var ips []string
	for _, p := range bgp.PeersV4 {
		ips = append(ips, p.PeerIP)
	}
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.8"} // both down sessions, then the first established
	if strings.Join(ips, ",") != strings.Join(want, ",") {
		t.Fatalf("kept peers %v, want %v", ips, want)
	}
	if bgp.NumberEstablishedV4 != 8 || bgp.NumberNotEstablishedV4 != 2 {
		t.Fatalf("counts %d/%d, want every session counted: 8/2", bgp.NumberEstablishedV4, bgp.NumberNotEstablishedV4)
	}
	if !bgp.PeersTruncated || len(bgp.Issues) != 1 || bgp.Issues[0].Reason != v3.ReasonPeersTruncated || bgp.Issues[0].Family != v3.IPFamilyV4 {
		t.Fatalf("truncation not reported: truncated=%v issues=%+v", bgp.PeersTruncated, bgp.Issues)
	}

	full := Build(snap, []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, Options{}).BGP
	if len(full.PeersV4) != 10 || full.PeersTruncated || len(full.Issues) != 0 {
		t.Fatalf("under the default cap: %d peers, truncated=%v, issues %+v", len(full.PeersV4), full.PeersTruncated, full.Issues)
	}
}
