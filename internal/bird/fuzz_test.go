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

func FuzzParseStatus(f *testing.F) {
	addSeeds(f, hostileStatus)
	f.Fuzz(func(t *testing.T, in []byte) {
		st, ws, err := ParseStatus(bytes.NewReader(in), fuzzCap/2)
		checkClean(t, "status", []any{st, ws, err})
		if err == nil && (st == nil || st.Version == "" || st.Major < 1) {
			t.Fatalf("status %+v without error", st)
		}
		if len(ws) > 100 {
			t.Fatalf("%d warnings", len(ws))
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
