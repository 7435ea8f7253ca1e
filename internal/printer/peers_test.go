package printer_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

// statusObj is a CalicoNodeStatus of node written at lastUpdated with the given peers (IPv4 when the
// address has a dot).
func statusObj(name, node string, lastUpdated time.Time, peers ...v3.CalicoNodePeer) v3.CalicoNodeStatus {
	period := int32(10)
	o := v3.CalicoNodeStatus{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec: v3.CalicoNodeStatusSpec{Node: node, UpdatePeriodSeconds: &period,
			Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP}},
		Status: v3.CalicoNodeStatusStatus{LastUpdated: metav1.NewTime(lastUpdated), ObservedGeneration: 1,
			Conditions: []metav1.Condition{{Type: v3.ConditionReady, Status: metav1.ConditionTrue, Reason: v3.ReasonCollected}},
			BGP:        &v3.CalicoNodeBGPStatus{}},
	}
	for _, p := range peers {
		if strings.Contains(p.PeerIP, ".") {
			o.Status.BGP.PeersV4 = append(o.Status.BGP.PeersV4, p)
		} else {
			o.Status.BGP.PeersV6 = append(o.Status.BGP.PeersV6, p)
		}
	}
	return o
}

var t0 = at("2026-11-30T12:00:00Z")

func meshPeer(ip string, state v3.BGPSessionState, info string) v3.CalicoNodePeer {
	return v3.CalicoNodePeer{PeerIP: ip, Type: v3.BGPPeerTypeNodeMesh, State: state, Info: info, Since: "2026-11-30 11:00:00",
		Protocol: "Mesh_" + strings.NewReplacer(".", "_", ":", "_").Replace(ip), NeighborAS: 64512, RoutesImported: 1, RoutesExported: 2}
}

func TestLatestReportsPicksTheFreshestObjectPerNode(t *testing.T) {
	old := statusObj("a-old", "a", t0.Add(-time.Hour), meshPeer("10.0.0.2", v3.BGPSessionStateActive, "old"))
	newer := statusObj("a-new", "a", t0.Add(-5*time.Second), meshPeer("10.0.0.2", v3.BGPSessionStateEstablished, ""))
	routesOnly := statusObj("a-routes", "a", t0, meshPeer("10.0.0.9", v3.BGPSessionStateEstablished, ""))
	routesOnly.Spec.Classes = []v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes}
	waiting := statusObj("b-waiting", "b", t0)
	waiting.Status = v3.CalicoNodeStatusStatus{}
	for _, order := range [][]v3.CalicoNodeStatus{{old, newer, routesOnly, waiting}, {waiting, routesOnly, newer, old}} {
		reps := printer.LatestReports(order, t0, nil)
		if len(reps) != 2 || reps[0].Node != "a" || reps[1].Node != "b" {
			t.Fatalf("reports %+v, want nodes a and b (the Routes-only object does not count)", reps)
		}
		if reps[0].Object != "a-new" || reps[0].Objects != 2 || !reps[0].Fresh() {
			t.Errorf("node a: object %s (%d objects, fresh %t), want a-new of 2, fresh", reps[0].Object, reps[0].Objects, reps[0].Fresh())
		}
		if reps[1].Usable() || !reps[1].Assessment.Waiting {
			t.Errorf("node b: usable %t waiting %t, want a waiting report", reps[1].Usable(), reps[1].Assessment.Waiting)
		}
	}
}

func TestPeerRowsFilterAndSort(t *testing.T) {
	objs := []v3.CalicoNodeStatus{
		statusObj("b", "node-b", t0, meshPeer("10.0.0.1", v3.BGPSessionStateEstablished, ""), meshPeer("fd00::1", v3.BGPSessionStateEstablished, "")),
		statusObj("a", "node-a", t0, meshPeer("10.0.0.10", v3.BGPSessionStateEstablished, ""), meshPeer("10.0.0.2", v3.BGPSessionStateActive, "Socket: Connection refused"),
			v3.CalicoNodePeer{PeerIP: "10.0.0.254", Type: v3.BGPPeerTypeGlobalPeer, State: v3.BGPSessionStateIdle, Info: "Down (disabled)"}),
	}
	reps := printer.LatestReports(objs, t0, nil)
	key := func(rows []printer.PeerRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.Node+" "+r.PeerIP)
		}
		return out
	}
	tests := []struct {
		name string
		f    printer.PeerFilter
		want []string
	}{
		{"all, by node then family then address", printer.PeerFilter{}, []string{"node-a 10.0.0.2", "node-a 10.0.0.10", "node-a 10.0.0.254", "node-b 10.0.0.1", "node-b fd00::1"}},
		{"node", printer.PeerFilter{Nodes: []string{"node-b"}}, []string{"node-b 10.0.0.1", "node-b fd00::1"}},
		{"not established", printer.PeerFilter{States: []string{"notestablished"}}, []string{"node-a 10.0.0.2", "node-a 10.0.0.254"}},
		{"state any case", printer.PeerFilter{States: []string{"IDLE", "active"}}, []string{"node-a 10.0.0.2", "node-a 10.0.0.254"}},
		{"type", printer.PeerFilter{Types: []string{"globalpeer"}}, []string{"node-a 10.0.0.254"}},
		{"type and state", printer.PeerFilter{Types: []string{"NodeMesh"}, States: []string{"Established"}}, []string{"node-a 10.0.0.10", "node-b 10.0.0.1", "node-b fd00::1"}},
	}
	for _, tt := range tests {
		if got := key(printer.PeerRows(reps, tt.f)); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: rows %q, want %q", tt.name, got, tt.want)
		}
	}
	if err := printer.ValidatePeerFilter(printer.PeerFilter{States: []string{"Up"}}); err == nil || !strings.Contains(err.Error(), `state "Up"`) {
		t.Errorf("an unknown state is accepted: %v", err)
	}
	if err := printer.ValidatePeerFilter(printer.PeerFilter{Types: []string{"Mesh"}}); err == nil {
		t.Errorf("an unknown type is accepted")
	}
}

func TestPeerTableColumnsAndWide(t *testing.T) {
	p := meshPeer("10.0.0.2", v3.BGPSessionStateActive, "Socket: Connection refused")
	p.FlapCount, p.LastEstablished = 2, &metav1.Time{Time: at("2026-11-30T10:59:58Z")}
	objs := []v3.CalicoNodeStatus{statusObj("a", "node-a", t0, p)}
	rows := printer.PeerRows(printer.LatestReports(objs, t0, nil), printer.PeerFilter{})
	var narrow, wide bytes.Buffer
	if err := printer.PrintTable(&narrow, printer.PeerTable(rows), false); err != nil {
		t.Fatal(err)
	}
	if err := printer.PrintTable(&wide, printer.PeerTable(rows), true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(narrow.String()), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NODE PEER TYPE STATE SINCE ASN PREFIXES IN/OUT REASON" {
		t.Fatalf("narrow table:\n%s", narrow.String())
	}
	if got := strings.Join(strings.Fields(lines[1]), " "); got != "node-a 10.0.0.2 NodeMesh Active 2026-11-30 11:00:00 64512 1/2 Socket: Connection refused" {
		t.Errorf("row %q", got)
	}
	if got := strings.Join(strings.Fields(strings.Split(strings.TrimSpace(wide.String()), "\n")[1]), " "); !strings.Contains(got, "IPv4 Mesh_10_0_0_2 - 2 2026-11-30T10:59:58Z a READY") {
		t.Errorf("wide row %q lacks family, protocol, hold, flaps, last established, object, freshness", got)
	}
	for _, w := range []string{"FAMILY", "PROTOCOL", "FLAPS", "LAST ESTABLISHED", "OBJECT", "FRESHNESS", "IPv4", "Mesh_10_0_0_2", "READY"} {
		if !strings.Contains(wide.String(), w) {
			t.Errorf("wide table lacks %q:\n%s", w, wide.String())
		}
		if w == "OBJECT" && strings.Contains(narrow.String(), w) {
			t.Errorf("narrow table has the wide column %s", w)
		}
	}
}

// A status is written by whoever may write it: what the views print must not act on the terminal.
func TestPeerViewsEscapeHostileStrings(t *testing.T) {
	const evil = "\x1b]0;owned\x07\u202eX\n\xff"
	p := meshPeer("10.0.0.2", v3.BGPSessionStateActive, "Socket: "+evil)
	p.Protocol, p.Since = "Mesh"+evil, evil
	objs := []v3.CalicoNodeStatus{statusObj("a"+evil, "node-a", t0, p)}
	rows := printer.PeerRows(printer.LatestReports(objs, t0, nil), printer.PeerFilter{})
	var table bytes.Buffer
	if err := printer.PrintTable(&table, printer.PeerTable(rows), true); err != nil {
		t.Fatal(err)
	}
	var js, ym bytes.Buffer
	if err := printer.PrintView(&js, &printers.JSONPrinter{}, "json", printer.NewPeerList(rows)); err != nil {
		t.Fatal(err)
	}
	if err := printer.PrintView(&ym, &printers.YAMLPrinter{}, "yaml", printer.NewPeerList(rows)); err != nil {
		t.Fatal(err)
	}
	for what, out := range map[string]string{"table": table.String(), "json": js.String(), "yaml": ym.String()} {
		for _, bad := range []string{"\x1b", "\x07", "\u202e", "\xff"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s prints %q raw:\n%s", what, bad, out)
			}
		}
	}
	// JSON stays the same value: only the way it is written changes.
	var back printer.PeerList
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Kind != "PeerList" || len(back.Items) != 1 || !strings.Contains(back.Items[0].Reason, "\u202e") {
		t.Errorf("JSON round trip: %+v", back)
	}
	var fromYAML printer.PeerList
	if err := yaml.Unmarshal(ym.Bytes(), &fromYAML); err != nil || len(fromYAML.Items) != 1 {
		t.Errorf("YAML does not parse: %v\n%s", err, ym.String())
	}
}
