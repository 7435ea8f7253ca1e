package status

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

var allClasses = []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}

// goldenYAML renders sections as the golden files hold them.
func goldenYAML(t testing.TB, s Sections) []byte {
	t.Helper()
	b, err := yaml.Marshal(s)
	if err != nil {
		t.Fatalf("marshal sections to YAML: %v", err)
	}
	return b
}

// checkGolden compares got with testdata/<name>.golden.yaml, or rewrites the file under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.yaml")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("create testdata: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write golden %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s (run go test -run %s -update to create it): %v", path, t.Name(), err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the mapping (review, then go test -update):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff is a minimal line diff (longest common subsequence) of want and got, with line numbers of
// got, good enough to review a golden change.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j] is the LCS length of w[i:] and g[j:].
	lcs := make([][]int, len(w)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			i, j = i+1, j+1
		case j < len(g) && (i == len(w) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&b, "%4d + %s\n", j+1, g[j])
			j++
		default:
			fmt.Fprintf(&b, "%4d - %s\n", j+1, w[i])
			i++
		}
	}
	return b.String()
}

type goldenCase struct {
	name    string
	snap    func() bird.Snapshot
	classes []v3.NodeStatusClassType
	opts    Options
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "lab_all_classes", snap: lab, classes: allClasses},
		{name: "lab_agent_only", snap: lab, classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent}},
		{name: "lab_bgp_only", snap: lab, classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}},
		{name: "lab_routes_only", snap: lab, classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes}},
		{name: "lab_agent_routes", snap: lab, classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes, v3.NodeStatusClassTypeAgent}},
		{name: "v4_daemon_unreachable", classes: allClasses, snap: func() bird.Snapshot {
			s := lab()
			s.V4 = bird.DaemonSnapshot{Family: bird.IPv4, Socket: "/var/run/calico/bird.ctl",
				StatusErr: errNoSocket, ProtocolsErr: errNoSocket, RoutesErr: errNoSocket}
			return s
		}},
		{name: "v6_routes_parse_failed_protocols_refused", classes: allClasses, snap: func() bird.Snapshot {
			s := lab()
			s.V6.Routes, s.V6.RoutesErr = nil, errParse
			s.V4.ProtocolsErr, s.V4.Protocols = errRefused, nil
			return s
		}},
		{name: "reply_cut_and_deadline", classes: allClasses, snap: func() bird.Snapshot {
			s := lab()
			s.V4.Routes, s.V4.RoutesErr = nil, errCut
			s.V6.Status, s.V6.StatusErr = nil, errTruncEOF
			return s
		}},
		{name: "warnings_partial_parse", classes: allClasses, snap: func() bird.Snapshot {
			s := lab()
			s.V4.Warnings = []bird.Warning{
				{Command: "show route all", Line: 40, Text: " 10.9.9.0/24 via ??? on eth0", Err: "bad gateway"},
				{Command: "show route all", Line: 17, Text: "1007-10.0.0/33 via 10.0.0.2", Err: "bad prefix"},
				{Command: "show protocols all", Line: 3, Text: "Mesh_x BGP master ??", Err: "too few columns"},
				{Command: "show status", Line: 2, Text: "1011-Router ID is ???", Err: "bad router ID"},
			}
			s.V6.Warnings = []bird.Warning{
				{Command: "show route all", Line: 9, Text: strings.Repeat("x", 3000), Err: "line too long"},
			}
			return s
		}},
		{name: "truncated_fib_first", classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes},
			opts: Options{MaxRoutesPerFamily: 5}, snap: lab},
		{name: "truncated_fills_with_rib", classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes},
			opts: Options{MaxRoutesPerFamily: 13}, snap: lab},
		{name: "truncated_by_bytes", classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes},
			opts: Options{MaxRouteBytesPerFamily: 700}, snap: lab},
		{name: "v6_no_socket_configured", classes: allClasses, snap: func() bird.Snapshot {
			s := lab()
			s.V6 = bird.DaemonSnapshot{Family: bird.IPv6, StatusErr: bird.ErrNoSocket, ProtocolsErr: bird.ErrNoSocket, RoutesErr: bird.ErrNoSocket}
			return s
		}},
		{name: "v6_not_collected", classes: allClasses, snap: func() bird.Snapshot {
			return bird.Snapshot{V4: labV4()}
		}},
		{name: "bird2_one_daemon", classes: allClasses, snap: bird2Lab},
		{name: "daemon_not_up", classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent}, snap: func() bird.Snapshot {
			s := lab()
			s.V4.Status = status("1.6.8", false)
			return s
		}},
		{name: "empty_daemon", classes: allClasses, snap: func() bird.Snapshot {
			return bird.Snapshot{
				V4: bird.DaemonSnapshot{Family: bird.IPv4, Status: status("2.0.12", true)},
				V6: bird.DaemonSnapshot{Family: bird.IPv6, Status: status("2.0.12", true)},
			}
		}},
	}
}

// bird2Lab is the lab as one BIRD 2 daemon reports it: the same status in both families, non-BGP
// protocols in both, the IPv6 routes of a session to an IPv4 neighbor (MP-BGP) filed under IPv4's
// protocols only.
func bird2Lab() bird.Snapshot {
	s := lab()
	st := status("2.0.12", true)
	s.V4.Status, s.V6.Status = st, st
	s.V4.Socket, s.V6.Socket = "/var/run/calico/bird.ctl", "/var/run/calico/bird.ctl"
	for _, d := range []*bird.DaemonSnapshot{&s.V4, &s.V6} {
		for i := range d.Protocols {
			if d.Protocols[i].BGP == nil {
				d.Protocols[i].Table = "---"
			}
		}
	}
	s.V6.Routes = append(s.V6.Routes,
		route("fd20::/64", "Global_10_0_0_254", true, hop("fd00::fe", "eth0")))
	return s
}

func TestBuildGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := Build(tc.snap(), tc.classes, tc.opts)
			checkGolden(t, tc.name, goldenYAML(t, got))
		})
	}
}
