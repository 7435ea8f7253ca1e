package printer_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func load(t *testing.T, name string) v3.CalicoNodeStatus {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var o v3.CalicoNodeStatus
	if err := yaml.UnmarshalStrict(data, &o); err != nil {
		t.Fatalf("fixture %s does not fit the API types: %v", name, err)
	}
	return o
}

func at(s string) time.Time {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm
}

// lastUpdated of the fixtures is 2021-10-18T13:22:03Z (refresh-disabled: 10:22:03Z).
var golden = []struct {
	name     string
	fixtures []string
	now      time.Time
	// want are lines the view must contain, independently of the golden file, so that -update cannot
	// bless a view that hides what matters.
	want []string
	// notWant must not appear (a stale or not-ready status must never look fresh).
	notWant []string
}{
	{"fresh", []string{"fresh-contract.yaml"}, at("2021-10-18T13:22:10Z"),
		[]string{"Status:        READY", "(7s ago)", "BIRD v4: Ready, v0.3.3+birdv1.6.8, router ID 10.128.0.240, up since 2021-10-18 09:23:19, last reconfig 2021-10-18 09:23:19",
			"IPv4 BGP peers: 2 established, 1 not established", "10.128.0.241  NodeMesh   OpenSent", "IPv6 BGP peers: none", "IPv4 routes: 4", "192.168.82.0/26  10.128.0.200  eth0       NodeMesh  10.128.0.200"},
		[]string{"STALE", "NOT READY", "truncated"}},
	{"stale-old-lastupdated", []string{"fresh-contract.yaml"}, at("2021-10-18T15:22:03Z"),
		[]string{"Status:        STALE, READY", "stale: last updated 120m ago", "stale after 5m30s", "(120m ago)"}, nil},
	{"stale-generation", []string{"stale-generation.yaml"}, at("2021-10-18T13:22:10Z"),
		[]string{"Status:        STALE, READY", "collected for generation 139 of the spec, which is now at generation 140"}, []string{"last updated 7s ago, but"}},
	{"not-ready-daemon-unreachable", []string{"not-ready-daemon-unreachable.yaml"}, at("2021-10-18T13:22:10Z"),
		[]string{"Status:        NOT READY", "ready: DaemonUnreachable: IPv6 BIRD unreachable", "BIRD v6: NotReady", "! IPv6 issue: DaemonUnreachable: dial unix /var/run/calico/bird6.ctl"},
		[]string{"STALE", "Status:        READY"}},
	{"truncated-routes", []string{"truncated-routes.yaml"}, at("2021-10-18T13:22:10Z"),
		[]string{"IPv4 routes: showing 3 of 1500 (truncated)", "IPv6 routes: 1", "+ next hop", "10.1.0.3", "blackhole", "BGP daemon: not requested", "ready: RoutesTruncated"},
		[]string{"IPv6 routes: showing"}},
	{"v6-only", []string{"v6-only.yaml"}, at("2021-10-18T13:22:10Z"),
		[]string{"BIRD v4: not reported", "BIRD v6: Ready, 2.0.12", "IPv4 BGP peers: none", "IPv6 BGP peers: 2 established, 1 not established", "fe80::99%eth0", "Connect: Connection refused", "IPv4 routes: none", "IPv6 routes: 2"},
		[]string{"STALE"}},
	{"no-status", []string{"no-status.yaml"}, at("2021-10-18T13:22:10Z"),
		[]string{"Status:        WAITING", "waiting for the agent on node node-3", "Last changed:  never"}, []string{"READY", "BGP peers"}},
	{"refresh-disabled", []string{"refresh-disabled.yaml"}, at("2021-10-18T13:22:03Z"),
		[]string{"Status:        READY", "refresh disabled", "snapshot: refresh is disabled; this is the node as it was 3h ago", "BGP peers: not requested", "Routes: not requested"},
		[]string{"STALE"}},
	{"two-objects", []string{"fresh-contract.yaml", "no-status.yaml"}, at("2021-10-18T13:22:10Z"),
		[]string{"Name:          my-caliconodestatus-1", "Name:          new-node-3"}, nil},
}

func TestText_Golden(t *testing.T) {
	for _, tt := range golden {
		t.Run(tt.name, func(t *testing.T) {
			var objs []v3.CalicoNodeStatus
			for _, f := range tt.fixtures {
				objs = append(objs, load(t, f))
			}
			var buf bytes.Buffer
			if err := printer.Text(&buf, objs, tt.now, nil); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("view lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("view must not contain %q:\n%s", w, got)
				}
			}
			for i, line := range strings.Split(got, "\n") {
				if strings.TrimRight(line, " \t") != line {
					t.Errorf("line %d has trailing blanks: %q", i+1, line)
				}
			}
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/printer -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("view differs from %s (-golden +got):\n%s", path, diff)
			}
		})
	}
}

func TestAssess(t *testing.T) {
	fresh := load(t, "fresh-contract.yaml") // period 10 s: stale after max(20s, 5m)+30s = 5m30s
	last := fresh.Status.LastUpdated.Time
	withPeriod := func(o v3.CalicoNodeStatus, p int32) v3.CalicoNodeStatus {
		o = *o.DeepCopy()
		o.Spec.UpdatePeriodSeconds = &p
		return o
	}
	notReady := *fresh.DeepCopy()
	notReady.Status.Conditions[0].Status = metav1.ConditionFalse
	noCond := *fresh.DeepCopy()
	noCond.Status.Conditions = nil
	behind := *fresh.DeepCopy()
	behind.Generation++
	tests := []struct {
		name      string
		obj       v3.CalicoNodeStatus
		now       time.Time
		verdict   string
		stale     int
		snapshot  bool
		ageString string
	}{
		{"just written", fresh, last, "READY", 0, false, "0s"},
		{"at the limit", fresh, last.Add(printer.StaleAfter(10, v3.DefaultHeartbeat)), "READY", 0, false, "5m30s"},
		{"just past the limit", fresh, last.Add(printer.StaleAfter(10, v3.DefaultHeartbeat) + time.Second), "STALE, READY", 1, false, "5m31s"},
		{"long period: 2x period counts", withPeriod(fresh, 3600), last.Add(2*time.Hour + 20*time.Second), "READY", 0, false, "2h0m20s"},
		{"long period: past 2x period + slack", withPeriod(fresh, 3600), last.Add(2*time.Hour + 31*time.Second), "STALE, READY", 1, false, "2h0m31s"},
		{"refresh disabled: old but not stale", withPeriod(fresh, 0), last.Add(72 * time.Hour), "READY", 0, true, "72h0m0s"},
		{"lastUpdated ahead of this clock", fresh, last.Add(-time.Minute), "READY", 0, false, "-1m0s"},
		{"observed generation behind", behind, last, "STALE, READY", 1, false, "0s"},
		{"behind and old", behind, last.Add(time.Hour), "STALE, READY", 2, false, "1h0m0s"},
		{"ready false", notReady, last, "NOT READY", 0, false, "0s"},
		{"no Ready condition", noCond, last, "READY UNKNOWN", 0, false, "0s"},
		{"no status", load(t, "no-status.yaml"), last, "WAITING", 0, false, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := printer.Assess(&tt.obj, tt.now, nil)
			if a.Verdict() != tt.verdict || len(a.Stale) != tt.stale || a.Snapshot != tt.snapshot || a.Age.String() != tt.ageString {
				t.Errorf("Assess = verdict %q, stale %q, snapshot %v, age %s; want %q, %d stale reasons, snapshot %v, age %s",
					a.Verdict(), a.Stale, a.Snapshot, a.Age, tt.verdict, tt.stale, tt.snapshot, tt.ageString)
			}
		})
	}
}

func TestStaleAfter(t *testing.T) {
	tests := []struct {
		period    int32
		heartbeat time.Duration
		want      time.Duration
	}{
		{0, v3.DefaultHeartbeat, 0},
		{-1, v3.DefaultHeartbeat, 0},
		{10, 0, 0}, // no heartbeat: age says nothing
		{1, v3.DefaultHeartbeat, v3.DefaultHeartbeat + printer.StaleSlack},
		{150, v3.DefaultHeartbeat, v3.DefaultHeartbeat + printer.StaleSlack},
		{151, v3.DefaultHeartbeat, 302*time.Second + printer.StaleSlack},
		{86400, v3.DefaultHeartbeat, 48*time.Hour + printer.StaleSlack},
		{10, time.Hour, time.Hour + printer.StaleSlack}, // an agent run with --heartbeat=1h says so
	}
	for _, tt := range tests {
		if got := printer.StaleAfter(tt.period, tt.heartbeat); got != tt.want {
			t.Errorf("StaleAfter(%d, %s) = %s, want %s", tt.period, tt.heartbeat, got, tt.want)
		}
	}
}

// TestObjects_RoundTrip writes objects as YAML and JSON and reads them back: nothing may be lost, and
// the output carries apiVersion and kind even when the input (from a typed client) did not.
func TestObjects_RoundTrip(t *testing.T) {
	names := []string{"fresh-contract.yaml", "not-ready-daemon-unreachable.yaml", "truncated-routes.yaml", "v6-only.yaml", "no-status.yaml"}
	var all []v3.CalicoNodeStatus
	for _, n := range names {
		o := load(t, n)
		all = append(all, o)
	}
	for _, f := range []printer.Format{printer.FormatYAML, printer.FormatJSON} {
		for _, n := range names {
			t.Run(string(f)+"/"+n, func(t *testing.T) {
				want := load(t, n)
				in := *want.DeepCopy()
				in.TypeMeta = metav1.TypeMeta{} // as a typed client may return it
				in.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "calico-node-status-agent", Operation: metav1.ManagedFieldsOperationApply}}
				var buf bytes.Buffer
				if err := printer.Objects(&buf, []v3.CalicoNodeStatus{in}, true, f); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(buf.String(), "managedFields") {
					t.Errorf("%s output shows managedFields", f)
				}
				var got v3.CalicoNodeStatus
				if err := decode(f, buf.Bytes(), &got); err != nil {
					t.Fatalf("read back %s: %v\n%s", f, err, buf.String())
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s round trip differs (-fixture +read back):\n%s", f, diff)
				}
			})
		}
		t.Run(string(f)+"/list", func(t *testing.T) {
			var buf bytes.Buffer
			if err := printer.Objects(&buf, all, false, f); err != nil {
				t.Fatal(err)
			}
			var got v3.CalicoNodeStatusList
			if err := decode(f, buf.Bytes(), &got); err != nil {
				t.Fatalf("read back %s list: %v", f, err)
			}
			if got.Kind != "CalicoNodeStatusList" || got.APIVersion != "projectcalico.org/v3" {
				t.Errorf("list is %s %s", got.APIVersion, got.Kind)
			}
			if diff := cmp.Diff(all, got.Items); diff != "" {
				t.Errorf("%s list round trip differs (-fixtures +read back):\n%s", f, diff)
			}
		})
	}
}

func decode(f printer.Format, data []byte, into any) error {
	if f == printer.FormatJSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		return dec.Decode(into)
	}
	return yaml.UnmarshalStrict(data, into)
}

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{{"yaml", true}, {"json", true}, {"wide", false}, {"", false}, {"YAML", false}} {
		_, err := printer.ParseFormat(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseFormat(%q) error %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestPeersTruncatedSaysSo(t *testing.T) {
	p := int32(10)
	obj := &v3.CalicoNodeStatus{
		Spec: v3.CalicoNodeStatusSpec{Node: "rr-1", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: &p},
		Status: v3.CalicoNodeStatusStatus{BGP: &v3.CalicoNodeBGPStatus{NumberEstablishedV4: 900, NumberNotEstablishedV4: 2, PeersTruncated: true,
			PeersV4: []v3.CalicoNodePeer{{PeerIP: "10.0.0.4", Type: v3.BGPPeerTypeGlobalPeer, State: v3.BGPSessionStateActive}}}},
	}
	var buf bytes.Buffer
	if err := printer.Text(&buf, []v3.CalicoNodeStatus{*obj}, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "showing 1 of 902 sessions (truncated") {
		t.Fatalf("a cut peer list is not marked:\n%s", buf.String())
	}
}
