package bird

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets are seeded with every captured reply; `go test` runs the seeds, hack/fuzz.sh runs the
// fuzzer. None may panic, and every one runs under a small size cap that must hold.

const fuzzCap = 1 << 16

func addSeeds(f *testing.F, extra ...string) {
	files, _ := filepath.Glob("testdata/*/bird-*/*.txt")
	for _, p := range files {
		if strings.HasSuffix(p, ".birdc.txt") {
			continue
		}
		b := readFile(f, p)
		if len(b) > fuzzCap {
			b = b[:fuzzCap] // keep seeds small; the fuzzer grows them if it wants
		}
		f.Add(b)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

func FuzzFraming(f *testing.F) {
	addSeeds(f, "0000 \n", "1000-a\n b\n0013 c\n", "9001 x\n", "8001-a\n b\n0000 \n", " x\n", "0000", "1007-\n\n")
	f.Fuzz(func(t *testing.T, in []byte) {
		lr := newLineReader(bytes.NewReader(in), fuzzCap/2)
		for i := 0; i < 4; i++ { // several replies on one stream, as on a connection
			last := 0
			err := lr.readReply("fuzz", func(code int, text []byte, lineNo int) {
				if code < 0 || code > 7999 {
					t.Fatalf("line %d: code %d passed to the parser", lineNo, code)
				}
				if bytes.IndexByte(text, '\n') >= 0 {
					t.Fatalf("line %d: text %q holds a newline", lineNo, text)
				}
				if lineNo <= last {
					t.Fatalf("line numbers not increasing: %d after %d", lineNo, last)
				}
				last = lineNo
			})
			if lr.n > lr.max && err == nil {
				t.Fatalf("reply of %d bytes accepted over a cap of %d", lr.n, lr.max)
			}
			if err != nil {
				return
			}
		}
	})
}

// versionForms are the version strings BIRD builds print (Calico's fork names the BIRD it is built on
// after "+bird"), and forms that cannot be read; every one is a seed of the status and greeting targets.
var versionForms = []string{
	"1.6.8", "2.0.12", "v2.15.1", "2.17.1", "3.1.0", "v2.15-12-gabc", "v0.3.3+birdv1.6.8",
	"v0.3.3-211-g9111ec3c+birdv1.6.8", "1.6.3calico0.3.0", "v0.3.3", "x.y", "+bird", "",
}

func statusSeeds() []string {
	seeds := []string{"1000 BIRD\n", "1000-BIRD\n0013 Daemon is up and running\n", "1000-BIRD\x00\xff\n0013 x\n", "1000-BIRD\t\n0000 \n"}
	for _, v := range versionForms {
		seeds = append(seeds, "1000-BIRD "+v+"\n1011-Router ID is 10.99.0.1\n Last reboot on 2026-11-24 10:13:55\n0013 Daemon is up and running\n")
	}
	return seeds
}

func FuzzParseStatus(f *testing.F) {
	addSeeds(f, statusSeeds()...)
	addSeeds(f, hostileStatus)
	f.Fuzz(func(t *testing.T, in []byte) {
		st, ws, err := ParseStatus(bytes.NewReader(in), fuzzCap/2)
		checkClean(t, "status", []any{st, ws, err})
		if err == nil {
			// Any version is accepted as printed; Major is what can be read of it (0: nothing).
			if st == nil {
				t.Fatal("no status and no error")
			}
			if m, _ := majorOf(st.Version); st.Major != m || strings.ContainsAny(st.Version, " \t\n") {
				t.Fatalf("status %+v: version %q gives major %d", st, st.Version, m)
			}
		}
		if len(ws) > 100 {
			t.Fatalf("%d warnings", len(ws))
		}
	})
}

func FuzzParseGreeting(f *testing.F) {
	for _, v := range versionForms {
		f.Add(1, []byte("BIRD "+v+" ready."))
	}
	f.Add(1, []byte("BIRD"))
	f.Add(2, []byte("BIRD 1.6.8 ready."))
	f.Fuzz(func(t *testing.T, code int, text []byte) {
		v, major, ok := parseGreeting(code, text)
		if !ok {
			if v != "" || major != 0 {
				t.Fatalf("refused greeting gave %q, %d", v, major)
			}
			return
		}
		if code != 1 || !bytes.HasPrefix(bytes.TrimLeft(text, " \t\r\n\v\f"), []byte("BIRD")) {
			t.Fatalf("greeting %d %q accepted", code, text)
		}
		if m, _ := majorOf(v); m != major || major < 0 {
			t.Fatalf("greeting %q: major %d, version %q gives %d", text, major, v, m)
		}
	})
}

func FuzzParseProtocols(f *testing.F) {
	addSeeds(f, hostileProtocols)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, major := range []int{1, 2} {
			ps, ws, err := ParseProtocols(bytes.NewReader(in), major, IPv4, fuzzCap/2)
			checkClean(t, "protocols", []any{ps, ws, err})
			if len(ws) > 100 {
				t.Fatalf("%d warnings", len(ws))
			}
			if err != nil {
				continue
			}
			for _, p := range ps {
				if p.Name == "" || p.Kind == "" || p.State == "" || p.Since == "" {
					t.Fatalf("protocol with empty column: %+v", p)
				}
				if p.Routes.Imported < 0 || p.Routes.Exported < 0 || p.Routes.Preferred < 0 || p.Routes.Filtered < 0 {
					t.Fatalf("negative counters: %+v", p.Routes)
				}
			}
		}
	})
}

func FuzzParseRoutes(f *testing.F) {
	addSeeds(f, hostileRoutes)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, major := range []int{1, 2} {
			rs, ws, err := ParseRoutes(bytes.NewReader(in), major, fuzzCap/2)
			checkClean(t, "routes", []any{rs, ws, err})
			if len(ws) > 100 {
				t.Fatalf("%d warnings", len(ws))
			}
			// The streaming parser the Collector uses sees the same routes and keeps a bounded part.
			sel := NewRouteSelection(2, major >= 2)
			sws, serr := SelectRoutes(bytes.NewReader(in), major, fuzzCap/2, sel)
			if (serr == nil) != (err == nil) || len(sws) != len(ws) {
				t.Fatalf("selecting parse: %v, %d warnings; full parse: %v, %d warnings", serr, len(sws), err, len(ws))
			}
			if err != nil {
				continue
			}
			var want, got RouteTotals
			for i := range rs {
				want.Routes++
				if rs[i].InFIB() {
					want.FIB++
				}
			}
			for _, fam := range []Family{IPv4, IPv6} {
				kept, tot := sel.Family(fam)
				checkClean(t, "selected routes", kept)
				if len(kept) > 2*(2+maxTies) || len(kept) > tot.Routes {
					t.Fatalf("%d routes kept of %d", len(kept), tot.Routes)
				}
				got.Routes += tot.Routes
				got.FIB += tot.FIB
				if major < 2 {
					break // one family, one bucket
				}
			}
			if got != want {
				t.Fatalf("selection counted %+v, the full parse %+v", got, want)
			}
			for _, r := range rs {
				if !r.Prefix.IsValid() || r.Protocol == "" {
					t.Fatalf("route without prefix or protocol: %+v", r)
				}
				for _, nh := range r.NextHops {
					if !nh.Gateway.IsValid() && nh.Interface == "" {
						t.Fatalf("empty next hop in %+v", r)
					}
				}
			}
		}
	})
}

func FuzzCheckCommand(f *testing.F) {
	for _, s := range []string{"show status", "show route all table master4", "configure", "show protocols all \"M*\"", "show status\nconfigure"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		canon, err := CheckCommand(cmd)
		if err != nil {
			return
		}
		if !strings.HasPrefix(canon, "show ") || strings.ContainsAny(canon, "\n\r\x00;") {
			t.Fatalf("%q allowed as %q", cmd, canon)
		}
		again, err := CheckCommand(canon)
		if err != nil || again != canon {
			t.Fatalf("canonical form %q not stable: %q, %v", canon, again, err)
		}
	})
}
