package printer

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// ViewGroupVersion is the apiVersion of the CLI's own views (PeerList, MeshReport) in -o json|yaml. They
// are computed by the CLI from CalicoNodeStatus objects; no API server serves them.
var ViewGroupVersion = schema.GroupVersion{Group: "cli.calico-node-status.projectcalico.org", Version: "v1"}

// PeerRow is one BGP session as one node's agent reported it.
type PeerRow struct {
	Node string `json:"node"`
	// Object is the CalicoNodeStatus the row comes from.
	Object string `json:"object"`
	// Freshness is the object's verdict: READY, NOT READY, STALE, ... (see Assessment.Verdict).
	Freshness       string             `json:"freshness"`
	Family          v3.IPFamily        `json:"family"`
	PeerIP          string             `json:"peerIP"`
	Zone            string             `json:"zone,omitempty"`
	Type            v3.BGPPeerType     `json:"type,omitempty"`
	State           v3.BGPSessionState `json:"state,omitempty"`
	Since           string             `json:"since,omitempty"`
	Protocol        string             `json:"protocol,omitempty"`
	NeighborAS      int64              `json:"neighborAS,omitempty"`
	HoldTimeSeconds int32              `json:"holdTimeSeconds,omitempty"`
	RoutesImported  int64              `json:"routesImported"`
	RoutesExported  int64              `json:"routesExported"`
	// Reason is BIRD's word on a session that is not Established (the peer's info).
	Reason string `json:"reason,omitempty"`
	// Flaps and LastEstablished are the agent's flap history of the session (CalicoNodePeer's flapCount and
	// lastEstablished).
	Flaps           *int32 `json:"flaps,omitempty"`
	LastEstablished string `json:"lastEstablished,omitempty"`
}

// PeerList is the sessions of every node, the -o json|yaml form of `calico-node-status peers`.
type PeerList struct {
	metav1.TypeMeta `json:",inline"`
	Items           []PeerRow `json:"items"`
}

// DeepCopyObject makes PeerList a runtime.Object for cli-runtime's printers.
func (l *PeerList) DeepCopyObject() runtime.Object {
	c := &PeerList{TypeMeta: l.TypeMeta, Items: slices.Clone(l.Items)}
	for i := range c.Items {
		if f := c.Items[i].Flaps; f != nil {
			v := *f
			c.Items[i].Flaps = &v
		}
	}
	return c
}

// NewPeerList returns the rows as a PeerList with its apiVersion and kind set.
func NewPeerList(rows []PeerRow) *PeerList {
	l := &PeerList{Items: rows}
	l.APIVersion, l.Kind = ViewGroupVersion.String(), "PeerList"
	if l.Items == nil {
		l.Items = []PeerRow{}
	}
	return l
}

// PeerFilter narrows the rows; empty fields match everything. States and types are matched without
// regard to case; the state "NotEstablished" matches every state but Established.
type PeerFilter struct {
	Nodes  []string
	States []string
	Types  []string
}

// ValidatePeerFilter checks the filter's words against the contract's states and types.
func ValidatePeerFilter(f PeerFilter) error {
	states := []string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close", "NotEstablished", "Unknown"}
	for _, s := range f.States {
		if !slices.ContainsFunc(states, func(w string) bool { return strings.EqualFold(w, s) }) {
			return fmt.Errorf("state %q: want one of %s", s, strings.Join(states, ", "))
		}
	}
	types := []string{string(v3.BGPPeerTypeNodeMesh), string(v3.BGPPeerTypeNodePeer), string(v3.BGPPeerTypeGlobalPeer)}
	for _, s := range f.Types {
		if !slices.ContainsFunc(types, func(w string) bool { return strings.EqualFold(w, s) }) {
			return fmt.Errorf("type %q: want one of %s", s, strings.Join(types, ", "))
		}
	}
	return nil
}

func (f PeerFilter) match(r *PeerRow) bool {
	if len(f.Nodes) > 0 && !slices.Contains(f.Nodes, r.Node) {
		return false
	}
	if len(f.Types) > 0 && !slices.ContainsFunc(f.Types, func(t string) bool { return strings.EqualFold(t, string(r.Type)) }) {
		return false
	}
	if len(f.States) > 0 && !slices.ContainsFunc(f.States, func(s string) bool {
		switch {
		case strings.EqualFold(s, "NotEstablished"):
			return r.State != v3.BGPSessionStateEstablished
		case strings.EqualFold(s, "Unknown"):
			return r.State == ""
		}
		return strings.EqualFold(s, string(r.State))
	}) {
		return false
	}
	return true
}

// PeerRows flattens the reports into one row per session, filtered, sorted by node, family, peer address
// and protocol.
func PeerRows(reports []NodeReport, f PeerFilter) []PeerRow {
	var rows []PeerRow
	for i := range reports {
		rep := &reports[i]
		if rep.BGP == nil {
			continue
		}
		for fam, peers := range map[v3.IPFamily][]v3.CalicoNodePeer{v3.IPFamilyV4: rep.BGP.PeersV4, v3.IPFamilyV6: rep.BGP.PeersV6} {
			for _, p := range peers {
				r := PeerRow{Node: rep.Node, Object: rep.Object, Freshness: rep.Assessment.Verdict(), Family: fam,
					PeerIP: p.PeerIP, Zone: p.Zone, Type: p.Type, State: p.State, Since: p.Since, Protocol: p.Protocol,
					NeighborAS: p.NeighborAS, HoldTimeSeconds: p.HoldTimeSeconds, RoutesImported: p.RoutesImported,
					RoutesExported: p.RoutesExported, Reason: p.Info}
				peerHistory(&p, &r)
				if f.match(&r) {
					rows = append(rows, r)
				}
			}
		}
	}
	slices.SortFunc(rows, comparePeerRows)
	return rows
}

func comparePeerRows(a, b PeerRow) int {
	if c := strings.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Family), string(b.Family)); c != 0 {
		return c
	}
	aa, errA := netip.ParseAddr(a.PeerIP)
	ba, errB := netip.ParseAddr(b.PeerIP)
	if errA == nil && errB == nil {
		if c := aa.Compare(ba); c != 0 {
			return c
		}
	} else if c := strings.Compare(a.PeerIP, b.PeerIP); c != 0 {
		return c
	}
	return strings.Compare(a.Protocol, b.Protocol)
}

// PeerTable is the rows as a table for cli-runtime's table printer: the default columns, and with -o wide
// (priority 1) the family, protocol, hold time, flap history, object and its freshness. Every string is
// escaped (Escape): a status is written by whoever may write it.
func PeerTable(rows []PeerRow) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Node", Type: "string"},
		{Name: "Peer", Type: "string"},
		{Name: "Type", Type: "string"},
		{Name: "State", Type: "string"},
		{Name: "Since", Type: "string"},
		{Name: "ASN", Type: "string"},
		{Name: "Prefixes In/Out", Type: "string"},
		{Name: "Reason", Type: "string"},
		{Name: "Family", Type: "string", Priority: 1},
		{Name: "Protocol", Type: "string", Priority: 1},
		{Name: "Hold", Type: "string", Priority: 1},
		{Name: "Flaps", Type: "string", Priority: 1},
		{Name: "Last Established", Type: "string", Priority: 1},
		{Name: "Object", Type: "string", Priority: 1},
		{Name: "Freshness", Type: "string", Priority: 1},
	}}
	for _, r := range rows {
		peer := r.PeerIP
		if r.Zone != "" {
			peer += "%" + r.Zone
		}
		asn, hold, flaps := "-", "-", "-"
		if r.NeighborAS != 0 {
			asn = strconv.FormatInt(r.NeighborAS, 10)
		}
		if r.HoldTimeSeconds != 0 {
			hold = strconv.Itoa(int(r.HoldTimeSeconds)) + "s"
		}
		if r.Flaps != nil {
			flaps = strconv.Itoa(int(*r.Flaps))
		}
		state := string(r.State)
		if state == "" {
			state = "Unknown"
		}
		cells := []any{r.Node, peer, dash(string(r.Type)), state, dash(r.Since), asn,
			fmt.Sprintf("%d/%d", r.RoutesImported, r.RoutesExported), dash(r.Reason),
			string(r.Family), dash(r.Protocol), hold, flaps, dash(r.LastEstablished), r.Object, r.Freshness}
		for i, c := range cells {
			if s, ok := c.(string); ok {
				cells[i] = Escape(s)
			}
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: cells})
	}
	return t
}

// PrintTable prints a table built here with cli-runtime's table printer (wide: the priority-1 columns too).
func PrintTable(w io.Writer, t *metav1.Table, wide bool) error {
	p := printers.NewTablePrinter(printers.PrintOptions{Wide: wide})
	if err := p.PrintObj(t, w); err != nil {
		return fmt.Errorf("print table: %w", err)
	}
	return nil
}

// PrintView prints one of the CLI's views (PeerList, MeshReport) with a cli-runtime printer for -o
// json|yaml|jsonpath|go-template, escaping what a terminal would act on: JSON gets \u escapes for DEL,
// C1 and bidi controls (encoding/json escapes the others), YAML and templates get Escape'd strings.
func PrintView(w io.Writer, p printers.ResourcePrinter, format string, obj runtime.Object) error {
	obj = obj.DeepCopyObject()
	switch strings.ToLower(format) {
	case "json":
		var buf bytes.Buffer
		if err := p.PrintObj(obj, &buf); err != nil {
			return fmt.Errorf("print %s: %w", format, err)
		}
		if _, err := w.Write(escapeJSON(buf.Bytes())); err != nil {
			return fmt.Errorf("write %s: %w", format, err)
		}
		return nil
	case "yaml", "kyaml":
		escapeForYAML(obj)
	default:
		escapeValue(reflectElem(obj))
	}
	if err := p.PrintObj(obj, w); err != nil {
		return fmt.Errorf("print %s: %w", format, err)
	}
	return nil
}

func reflectElem(obj runtime.Object) reflect.Value { return reflect.ValueOf(obj).Elem() }

// peerHistory copies the agent's flap history of a session into its row.
func peerHistory(p *v3.CalicoNodePeer, r *PeerRow) {
	flaps := p.FlapCount
	r.Flaps = &flaps
	if p.LastEstablished != nil {
		r.LastEstablished = p.LastEstablished.UTC().Format(time.RFC3339)
	}
}
