package bird

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Hand-written replies for cases the captures do not show, in the shapes BIRD's print code produces
// (1.6: nest/rt-table.c rt_show_rte, nest/proto.c, proto/bgp/bgp.c; 2.x: nest/rt-show.c and the same).

func addr(s string) netip.Addr     { return netip.MustParseAddr(s) }
func prefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestParseRoutes(t *testing.T) {
	tests := []struct {
		name     string
		major    int
		reply    string
		want     []Route
		warnings []int // line numbers of expected warnings
	}{
		{
			name:  "1.6 from, sync error, multipath, second route, iso long time",
			major: 1,
			reply: "1007-10.64.0.0/16       unreachable [Mesh_10_9_0_2 10:13:59 from 10.9.0.2] * (100/-) [i]\n" +
				" 10.65.0.0/16       via 10.9.0.3 on eth0 [Node_10_9_0_9 2021-10-18 09:23:19 from 10.9.0.9] ! (100/0) [AS64513i]\n" +
				" 10.53.0.0/16       multipath [static1 10:13:55] * (200)\n" +
				" \tvia 10.9.0.2 on vx1 weight 2\n" +
				" \tvia 192.168.1.2 on dummy0 weight 1\n" +
				"                    dev dummy0 [direct1 10:13:55] (240)\n" +
				" fd00::/64          prohibited [static1 Oct18] * (200)\n" +
				"0000 \n",
			want: []Route{
				{Prefix: prefix("10.64.0.0/16"), Kind: RouteUnreachable, Primary: true, Protocol: "Mesh_10_9_0_2", Since: "10:13:59", From: addr("10.9.0.2")},
				{Prefix: prefix("10.65.0.0/16"), Primary: true, NextHops: []NextHop{{Gateway: addr("10.9.0.3"), Interface: "eth0"}},
					Protocol: "Node_10_9_0_9", Since: "2021-10-18 09:23:19", From: addr("10.9.0.9"), SyncError: true},
				{Prefix: prefix("10.53.0.0/16"), Primary: true, NextHops: []NextHop{{Gateway: addr("10.9.0.2"), Interface: "vx1", Weight: 2},
					{Gateway: addr("192.168.1.2"), Interface: "dummy0", Weight: 1}}, Protocol: "static1", Since: "10:13:55"},
				{Prefix: prefix("10.53.0.0/16"), NextHops: []NextHop{{Interface: "dummy0"}}, Protocol: "direct1", Since: "10:13:55"},
				{Prefix: prefix("fd00::/64"), Kind: RouteProhibit, Primary: true, Protocol: "static1", Since: "Oct18"},
			},
		},
		{
			name:  "2.x tables, mpls and onlink next hops, from, long prefix, blank lines",
			major: 2,
			reply: "1007-Table master4:\n" +
				" 10.0.0.0/8           unicast [bgp1 10:14:36.229 from 10.9.0.1] * (100) [AS65000i]\n" +
				" \tvia 10.9.0.7 on eth0 mpls 100/200 onlink\n" +
				"                      blackhole [static1 2021-10-18 09:23:19.123] (200)\n" +
				" \n" +
				" Table master6:\n" +
				" 2001:db8:1234:5678::/64 unicast [direct1 10:14:31.965] * (240)\n" +
				" \tdev eth1\n" +
				" fd71::/64            unicast [s6 10:14:33.182] * (200)\n" +
				" \tvia fd09::1 on vx2 weight 1\n" +
				" \tvia fe80::1 on vx2 weight 3\n" +
				"0000 \n",
			want: []Route{
				{Prefix: prefix("10.0.0.0/8"), Primary: true, NextHops: []NextHop{{Gateway: addr("10.9.0.7"), Interface: "eth0"}},
					Protocol: "bgp1", Since: "10:14:36", From: addr("10.9.0.1")},
				{Prefix: prefix("10.0.0.0/8"), Kind: RouteBlackhole, Protocol: "static1", Since: "2021-10-18 09:23:19"},
				{Prefix: prefix("2001:db8:1234:5678::/64"), Primary: true, NextHops: []NextHop{{Interface: "eth1"}}, Protocol: "direct1", Since: "10:14:31"},
				{Prefix: prefix("fd71::/64"), Primary: true, NextHops: []NextHop{{Gateway: addr("fd09::1"), Interface: "vx2", Weight: 1},
					{Gateway: addr("fe80::1"), Interface: "vx2", Weight: 3}}, Protocol: "s6", Since: "10:14:33"},
			},
		},
		{
			name:  "show route all: attributes skipped, the route before them kept",
			major: 2,
			reply: "1007-Table master4:\n" +
				" 10.54.0.0/16         unicast [Mesh_10_9_0_1 10:14:36.229] * (100) [i]\n" +
				" \tvia 10.9.0.1 on vx2\n" +
				"1008-\tType: BGP univ\n" +
				"1012-\tBGP.origin: IGP\n" +
				" \tBGP.as_path: \n" +
				" \tBGP.next_hop: 10.9.0.1\n" +
				"1007-                     unicast [Mesh_10_9_0_2 10:14:37.000] (100) [i]\n" +
				" \tvia 10.9.0.2 on vx2\n" +
				"1008-\tType: BGP univ\n" +
				"0000 \n",
			want: []Route{
				{Prefix: prefix("10.54.0.0/16"), Primary: true, NextHops: []NextHop{{Gateway: addr("10.9.0.1"), Interface: "vx2"}}, Protocol: "Mesh_10_9_0_1", Since: "10:14:36"},
				{Prefix: prefix("10.54.0.0/16"), NextHops: []NextHop{{Gateway: addr("10.9.0.2"), Interface: "vx2"}}, Protocol: "Mesh_10_9_0_2", Since: "10:14:37"},
			},
		},
		{
			name:  "unparsable lines are skipped, the rest survives, orphan next hops are not misattributed",
			major: 2,
			reply: "1007-Table master4:\n" +
				" 10.1.0.0/16          unicast [s1 10:00:00] * (200)\n" +
				" \tvia 10.0.0.1 on eth0\n" +
				" 10.2.0.0/99          unicast [s1 10:00:00] * (200)\n" + // bad prefix: line 4
				" \tvia 10.0.0.2 on eth0\n" + // belongs to the bad route: line 5
				"                      unicast [s2 10:00:00] (100)\n" + // blank prefix after a bad one: line 6
				" 10.3.0.0/16          ??? [s1 10:00:00] * (200)\n" + // unknown destination: line 7
				" 10.4.0.0/16          unicast s1 10:00:00 * (200)\n" + // no brackets: line 8
				" 10.5.0.0/16          blackhole [s1 10:00:00] * (200)\n" +
				" \tvia 10.0.0.300 on eth0\n" + // bad gateway: line 10
				" \tfoo bar\n" + // unknown next hop: line 11
				" 10.6.0.0/16          unicast [s1 10:00:00] * (200)\n" +
				" \tvia 10.0.0.6 on eth0 weight x\n" + // bad weight, hop kept: line 13
				"0000 \n",
			want: []Route{
				{Prefix: prefix("10.1.0.0/16"), Primary: true, NextHops: []NextHop{{Gateway: addr("10.0.0.1"), Interface: "eth0"}}, Protocol: "s1", Since: "10:00:00"},
				{Prefix: prefix("10.5.0.0/16"), Kind: RouteBlackhole, Primary: true, Protocol: "s1", Since: "10:00:00"},
				{Prefix: prefix("10.6.0.0/16"), Primary: true, NextHops: []NextHop{{Gateway: addr("10.0.0.6"), Interface: "eth0"}}, Protocol: "s1", Since: "10:00:00"},
			},
			warnings: []int{4, 5, 6, 7, 8, 10, 11, 13},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws, err := ParseRoutes(strings.NewReader(tt.reply), tt.major, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("routes:\n got %+v\nwant %+v", got, tt.want)
			}
			checkWarnings(t, ws, tt.warnings, CmdRoutes)
		})
	}
}

func checkWarnings(t *testing.T, ws []Warning, lines []int, cmd string) {
	t.Helper()
	var got []int
	for _, w := range ws {
		got = append(got, w.Line)
		if w.Command != cmd || w.Text == "" || w.Err == "" {
			t.Errorf("warning %+v lacks command, text or error", w)
		}
	}
	if !reflect.DeepEqual(got, lines) {
		t.Errorf("warnings on lines %v, want %v: %+v", got, lines, ws)
	}
}

func TestParseProtocols(t *testing.T) {
	tests := []struct {
		name     string
		major    int
		family   Family
		reply    string
		want     []Protocol
		warnings []int
	}{
		{
			name: "1.6 link-local neighbor, filtered counter, last error, info collapsed", major: 1, family: IPv6,
			reply: "2002-name     proto    table    state  since       info\n" +
				"1002-kernel1  Kernel   master   up     10:13:55    \n" +
				"1006-  Preference:     10\n" +
				"   Routes:         0 imported, 9 exported, 0 preferred\n" +
				" \n" +
				"1002-Node_fe80__99 BGP      master   start  2021-10-18 09:23:19  Active        Error: Neighbor lost\n" +
				"1006-  Preference:     100\n" +
				"   Routes:         3 imported, 2 filtered, 1 exported, 3 preferred\n" +
				"   BGP state:          Active\n" +
				"     Neighbor address: fe80::99%vx1\n" +
				"     Neighbor AS:      64513\n" +
				"     Connect delay:    2/5\n" +
				"     Last error:       Error: Neighbor lost\n" +
				" \n" +
				"0000 \n",
			want: []Protocol{
				{Name: "kernel1", Kind: "Kernel", Table: "master", State: "up", Since: "10:13:55", Routes: RouteCounts{Exported: 9}},
				{Name: "Node_fe80__99", Kind: "BGP", Table: "master", State: "start", Since: "2021-10-18 09:23:19", Info: "Active Error: Neighbor lost",
					Routes: RouteCounts{Imported: 3, Filtered: 2, Exported: 1, Preferred: 3},
					BGP: &BGPSession{State: "Active", Neighbor: addr("fe80::99%vx1"), Interface: "vx1", NeighborAS: 64513,
						LastError: "Error: Neighbor lost", Channels: []Family{IPv6}}},
			},
		},
		{
			name: "2.x channels summed, timers, port", major: 2,
			reply: "2002-Name       Proto      Table      State  Since         Info\n" +
				"1002-direct1    Direct     ---        up     10:14:31.961  \n" +
				"1006-  Channel ipv4\n" +
				"     Routes:         1 imported, 0 exported, 1 preferred\n" +
				"   Channel ipv6\n" +
				"     Routes:         2 imported, 0 exported, 2 preferred\n" +
				" \n" +
				"1002-Global_10_9_0_98 BGP        ---        up     10:14:36.229  Established   \n" +
				"1006-  BGP state:          Established\n" +
				"     Neighbor address: 10.9.0.98\n" +
				"     Neighbor port:    1790\n" +
				"     Neighbor AS:      4200000000\n" +
				"     Local AS:         64512\n" +
				"     Neighbor ID:      10.9.0.98\n" +
				"     Local capabilities\n" +
				"       Multiprotocol\n" +
				"         AF announced: ipv4 ipv6\n" +
				"     Session:          external AS4\n" +
				"     Source address:   10.9.0.2\n" +
				"     Hold timer:       203.913/240\n" +
				"     Keepalive timer:  61.102/80\n" +
				"   Channel ipv4\n" +
				"     State:          UP\n" +
				"     Routes:         6 imported, 5 exported, 4 preferred\n" +
				"   Channel ipv6\n" +
				"     Routes:         1 imported, 1 filtered, 2 exported, 1 preferred\n" +
				" \n" +
				"0000 \n",
			want: []Protocol{
				{Name: "direct1", Kind: "Direct", Table: "---", State: "up", Since: "10:14:31", Routes: RouteCounts{Imported: 3, Preferred: 3}},
				{Name: "Global_10_9_0_98", Kind: "BGP", Table: "---", State: "up", Since: "10:14:36", Info: "Established",
					Routes: RouteCounts{Imported: 7, Filtered: 1, Exported: 7, Preferred: 5},
					BGP: &BGPSession{State: "Established", Neighbor: addr("10.9.0.98"), NeighborPort: 1790, NeighborAS: 4200000000,
						LocalAS: 64512, NeighborID: "10.9.0.98", SourceAddress: addr("10.9.0.2"), HoldTime: 240 * time.Second,
						KeepaliveTime: 80 * time.Second, Channels: []Family{IPv4, IPv6}}},
			},
		},
		{
			name: "bad lines are skipped and reported", major: 2,
			reply: "2002-Name       Proto      Table      State  Since         Info\n" +
				"1006-  Routes:         1 imported, 0 exported, 1 preferred\n" + // before any protocol: line 2
				"1002-short BGP\n" + // line 3
				"1006-  BGP state:          Established\n" + // belongs to the short line: ignored
				"1002-Mesh_1 BGP        ---        up     10:14:36.229  Established   \n" +
				"1006-  BGP state:          Established\n" +
				"     Neighbor address: 10.9.0.300\n" + // line 7
				"     Neighbor AS:      x\n" + // line 8
				"     Hold timer:       203.913\n" + // line 9
				"   Channel ipv4\n" +
				"     Routes:         many imported\n" + // line 11
				"0000 \n",
			want: []Protocol{
				{Name: "Mesh_1", Kind: "BGP", Table: "---", State: "up", Since: "10:14:36", Info: "Established",
					BGP: &BGPSession{State: "Established", Channels: []Family{IPv4}}},
			},
			warnings: []int{2, 3, 7, 8, 9, 11},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ws, err := ParseProtocols(strings.NewReader(tt.reply), tt.major, tt.family, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("protocols:\n got %s\nwant %s", dumpProtocols(got), dumpProtocols(tt.want))
			}
			checkWarnings(t, ws, tt.warnings, CmdProtocols)
		})
	}
}

func dumpProtocols(ps []Protocol) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(fmtValue(p), "\n", " ")))
		if p.BGP != nil {
			b.WriteString(" BGP=" + fmtValue(*p.BGP))
		}
	}
	return b.String()
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    *Status
		wantErr bool
	}{
		{
			name: "2.x with milliseconds and hostname",
			reply: "1000-BIRD 2.0.12\n1011-Router ID is 10.9.0.2\n Hostname is vm\n Current server time is 2026-11-24 10:14:18.105\n" +
				" Last reboot on 2026-11-24 10:13:55.798\n Last reconfiguration on 2026-11-24 10:13:56.001\n0013 Daemon is up and running\n",
			want: &Status{Version: "2.0.12", Major: 2, RouterID: "10.9.0.2", BootTime: "2026-11-24 10:13:55",
				LastReconfiguration: "2026-11-24 10:13:56", Up: true, Message: "Daemon is up and running"},
		},
		{
			name: "1.6 reconfiguring",
			reply: "1000-BIRD 1.6.8\n1011-Router ID is 10.9.0.1\n Current server time is 2026-11-24 10:14:13\n" +
				" Last reboot on 2026-11-24 10:13:55\n Last reconfiguration on 2026-11-24 10:13:55\n0013 Reconfiguration in progress\n",
			want: &Status{Version: "1.6.8", Major: 1, RouterID: "10.9.0.1", BootTime: "2026-11-24 10:13:55",
				LastReconfiguration: "2026-11-24 10:13:55", Message: "Reconfiguration in progress"},
		},
		{
			name:  "BIRD 3 router ID line with extra notations, graceful restart lines",
			reply: "1000-BIRD 3.0.1\n1011-Router ID is 1.2.3.4  1.2.3.4    01020304\n Graceful restart recovery in progress\n0013 Daemon is up and running\n",
			want:  &Status{Version: "3.0.1", Major: 3, RouterID: "1.2.3.4", Up: true, Message: "Daemon is up and running"},
		},
		{
			name:  "Calico's fork",
			reply: "1000-BIRD v0.3.3+birdv1.6.8\n1011-Router ID is 10.99.0.1\n Last reboot on 2026-11-24 10:13:55\n0013 Daemon is up and running\n",
			want:  &Status{Version: "v0.3.3+birdv1.6.8", Major: 1, RouterID: "10.99.0.1", BootTime: "2026-11-24 10:13:55", Up: true, Message: "Daemon is up and running"},
		},
		{
			name:  "unreadable version kept as printed",
			reply: "1000-BIRD next-gen\n1011-Router ID is 1.2.3.4\n0013 Daemon is up and running\n",
			want:  &Status{Version: "next-gen", RouterID: "1.2.3.4", Up: true, Message: "Daemon is up and running"},
		},
		// issue 11 finding 1: "1000 BIRD" with nothing after the word panicked (slice bounds out of range).
		{
			name:    "version line with nothing after BIRD, final",
			reply:   "1000 BIRD\n",
			wantErr: true, // no closing "Daemon is ..." line
		},
		{
			name:  "version line with nothing after BIRD",
			reply: "1000-BIRD\n1011-Router ID is 1.2.3.4\n0013 Daemon is up and running\n",
			want:  &Status{RouterID: "1.2.3.4", Up: true, Message: "Daemon is up and running"},
		},
		{
			name:  "version line BIRD and a tab",
			reply: "1000-BIRD\t\n0013 Daemon is up and running\n",
			want:  &Status{Up: true, Message: "Daemon is up and running"},
		},
		{
			name:    "version line BIRD and odd bytes",
			reply:   "1000-BIRD\x00\xff\n0013 Daemon is up and running\n",
			wantErr: true, // "BIRD\x00\xff" is not the word BIRD: no version line
		},
		{name: "no version", reply: "1011-Router ID is 1.2.3.4\n0013 Daemon is up and running\n", wantErr: true},
		{name: "not a status reply", reply: "0000 \n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := ParseStatus(strings.NewReader(tt.reply), 0)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("status %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTrimFraction(t *testing.T) {
	for in, want := range map[string]string{
		"10:14:31.961":            "10:14:31",
		"2026-11-24 10:13:55.798": "2026-11-24 10:13:55",
		"10:14:31":                "10:14:31",
		"2026-11-24":              "2026-11-24",
		"Oct18":                   "Oct18",
		"1.5":                     "1.5",
		"":                        "",
	} {
		if got := string(trimFraction([]byte(in))); got != want {
			t.Errorf("trimFraction(%q) = %q, want %q", in, got, want)
		}
	}
}

func fmtValue(v any) string { return fmt.Sprintf("%+v", v) }

// TestEmptyReplies: a daemon with nothing to show gives empty, non-nil lists (nil means "not read").
func TestEmptyReplies(t *testing.T) {
	for _, major := range []int{1, 2} {
		ps, _, err := ParseProtocols(strings.NewReader("0000 \n"), major, IPv4, 0)
		if err != nil || ps == nil || len(ps) != 0 {
			t.Errorf("major %d protocols: %v, %v", major, ps, err)
		}
		rs, _, err := ParseRoutes(strings.NewReader("0000 \n"), major, 0)
		if err != nil || rs == nil || len(rs) != 0 {
			t.Errorf("major %d routes: %v, %v", major, rs, err)
		}
	}
	if got := familyRoutes([]Route{{Prefix: prefix("10.0.0.0/8")}}, IPv6); got == nil || len(got) != 0 {
		t.Errorf("familyRoutes with no route of the family: %v", got)
	}
}
