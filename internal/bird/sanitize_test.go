package bird

import (
	"context"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// hostile* are BIRD 2 replies whose names and texts carry ESC sequences, BEL, invalid UTF-8 and C1
// controls: what a compromised or buggy daemon, or a configuration written by someone else, can print.
const (
	hostileStatus = "1000-BIRD 2.0.12\x1b[31m\xff\n" +
		"1011-Router ID is 10.0.0.1\n" +
		" Last reboot on 2026-11-24 10:31:41\x07\n" +
		" Last reconfiguration on 2026-11-24\xc2\x85 10:31:41\n" +
		"0013 Daemon is up and running\x1b]0;pwned\x07\n"
	hostileProtocols = "2002-Name       Proto      Table      State  Since         Info\n" +
		"1002-Mesh_\x1b[2J\xfe BGP        ---        up     10:31:44.123  Established\x07  \n" +
		"1006-  BGP state:          Established\n" +
		"    Neighbor address: fe80::1%eth0\x1b[m\n" +
		"    Neighbor AS:      64512\n" +
		"    Neighbor ID:      10.0.0.2\x00\n" +
		"    Last error:       Socket:\x1b[1m \xffrefused\n" +
		"    Channel ipv6\n" +
		"      Routes:         1 imported, 1 exported, 1 preferred\n" +
		" \n" +
		"1002-kernel\x9b1    Kernel     master4    up     10:31:41\n" +
		"0000 \n"
	hostileRoutes = "1007-Table master6:\n" +
		" fd00:1::/64          unicast [Mesh_\x1b[2J\xfe 10:31:44.123 from fe80::1%eth0\x1b[m] * (100) [i]\n" +
		" \tvia fe80::1 on eth0\x07\xff\n" +
		" fd00:2::/64          unicast [kernel\x9b1 10:31:41\x1b] * (10)\n" +
		" \tdev \x1b[31meth1\n" +
		" fd00:3::/64\x1b      unicast [x 10:31:41] * (10)\n" +
		"0000 \n"
)

// checkClean fails when any string reachable from v (fields, slices, pointers, address zones, error
// messages) is invalid UTF-8 or holds a control character.
func checkClean(t *testing.T, what string, v any) {
	t.Helper()
	var walk func(path string, v reflect.Value)
	bad := func(path, s string) {
		if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			t.Errorf("%s: %s = %q is not clean text", what, path, s)
		}
	}
	walk = func(path string, v reflect.Value) {
		if v.IsValid() && v.CanInterface() {
			switch x := v.Interface().(type) {
			case error:
				if x != nil && !(v.Kind() == reflect.Pointer && v.IsNil()) {
					bad(path+".Error()", x.Error())
				}
				return
			case interface{ Zone() string }:
				bad(path+".Zone()", x.Zone())
				return
			}
		}
		switch v.Kind() {
		case reflect.String:
			bad(path, v.String())
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(path, v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(path+"."+v.Type().Field(i).Name, v.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(path+"[]", v.Index(i))
			}
		}
	}
	walk(what, reflect.ValueOf(v))
}

// TestHostileRepliesNeverReachTheSnapshot: invalid UTF-8 and control characters in every field BIRD
// prints come out as clean text, whether collected (with and without route selection) or parsed, and
// what was printable survives.
func TestHostileRepliesNeverReachTheSnapshot(t *testing.T) {
	m := map[string]string{CmdStatus: hostileStatus, CmdProtocols: hostileProtocols, CmdRoutes: hostileRoutes,
		"show route all": "8001 Route \x1b[31mnot found\xff\n"}
	f := startFakeBird(t, greeting2, func(cmd string, c net.Conn) bool {
		_, err := c.Write([]byte(m[cmd]))
		return err == nil
	})
	for _, c := range []*Collector{
		{V4Socket: f.path, Timeout: time.Minute},
		{V4Socket: f.path, Timeout: time.Minute, MaxRoutes: 10},
		{V4Socket: f.path, Timeout: time.Minute, RoutesCommand: "show route all"},
	} {
		s := c.Collect(context.Background(), Need{Status: true, Protocols: true, Routes: true})
		checkClean(t, "snapshot", s)
		if c.RoutesCommand != "" {
			if s.V6.RoutesErr == nil || !strings.Contains(s.V6.RoutesErr.Error(), `Route \x1b[31mnot found`+"\uFFFD") {
				t.Errorf("error reply: %v", s.V6.RoutesErr)
			}
			continue
		}
		if st := s.V6.Status; st == nil || st.Version != "2.0.12\\x1b[31m\uFFFD" || st.Message != `Daemon is up and running\x1b]0;pwned\x07` {
			t.Errorf("status %+v: want the version kept with its ESC escaped", st)
		}
		if len(s.V6.Protocols) == 0 || s.V6.Protocols[0].Name != "Mesh_\\x1b[2J\uFFFD" || s.V6.Protocols[0].BGP.Interface != "eth0\\x1b[m" {
			t.Errorf("protocols %+v", s.V6.Protocols)
		}
		if s.V6.TotalRoutes() != 2 || len(s.V6.Warnings) != 1 {
			t.Errorf("routes %+v (total %d), warnings %+v: want 2 routes and the line with a bad prefix skipped", s.V6.Routes, s.V6.TotalRoutes(), s.V6.Warnings)
		}
	}

	st, ws, err := ParseStatus(strings.NewReader(hostileStatus), 0)
	checkClean(t, "ParseStatus", []any{st, ws, err})
	ps, ws, err := ParseProtocols(strings.NewReader(hostileProtocols), 2, 0, 0)
	checkClean(t, "ParseProtocols", []any{ps, ws, err})
	rs, ws, err := ParseRoutes(strings.NewReader(hostileRoutes), 2, 0)
	checkClean(t, "ParseRoutes", []any{rs, ws, err})
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"Mesh_10_0_0_2":            "Mesh_10_0_0_2",
		"é ü 日本 \uFFFD":            "é ü 日本 \uFFFD",
		"a\x1b[31mb":               `a\x1b[31mb`,
		"bell\x07 tab\t nl\n cr\r": `bell\x07 tab\t nl\n cr\r`,
		"del\x7f nul\x00":          `del\x7f nul\x00`,
		"c1\u0085 csi\u009b":       `c1\u0085 csi\u009b`,
		"bad\xff\xfe utf8\xc3":     "bad\uFFFD\uFFFD utf8\uFFFD",
	} {
		got := CleanText(in)
		if got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
		if again := CleanText(got); again != got {
			t.Errorf("CleanText not idempotent on %q: %q", got, again)
		}
		if string(appendClean(nil, []byte(in))) != want {
			t.Errorf("byte path differs on %q", in)
		}
	}
}
