package printer

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/mesh"
)

// DefaultMatrixMaxNodes is the largest cluster the mesh view draws as a matrix by default; larger ones get
// the list of broken pairs only.
const DefaultMatrixMaxNodes = 20

// MeshNodes joins the cluster's nodes and the agents' reports into the analysis' input: every node of the
// Node list and every node that has a report, with the Node's addresses (mesh.NodeAddresses) and its BIRD
// router IDs. A report that is not usable (no BGP status yet) counts as none.
func MeshNodes(reports []NodeReport, nodes []corev1.Node) []mesh.Node {
	byName := map[string]*mesh.Node{}
	var order []string
	get := func(name string) *mesh.Node {
		if n, ok := byName[name]; ok {
			return n
		}
		n := &mesh.Node{Name: name}
		byName[name] = n
		order = append(order, name)
		return n
	}
	for i := range nodes {
		n := get(nodes[i].Name)
		n.Addrs = append(n.Addrs, mesh.NodeAddresses(&nodes[i])...)
	}
	for i := range reports {
		r := &reports[i]
		n := get(r.Node)
		for _, id := range r.RouterIDs {
			if a, err := netip.ParseAddr(id); err == nil && !slices.Contains(n.Addrs, a) {
				n.Addrs = append(n.Addrs, a)
			}
		}
		if !r.Usable() {
			continue
		}
		rep := &mesh.Report{Object: r.Object, Stale: strings.Join(r.Assessment.Stale, "; ")}
		for fam, peers := range map[v3.IPFamily][]v3.CalicoNodePeer{v3.IPFamilyV4: r.BGP.PeersV4, v3.IPFamilyV6: r.BGP.PeersV6} {
			for _, p := range peers {
				a, err := netip.ParseAddr(p.PeerIP)
				if err != nil {
					continue // not an address: nothing to match it with
				}
				rep.Sessions = append(rep.Sessions, mesh.Session{Family: fam, Peer: a.Unmap(), Type: p.Type, State: p.State,
					Info: p.Info, Since: p.Since, Protocol: p.Protocol})
			}
		}
		n.Report = rep
	}
	out := make([]mesh.Node, 0, len(order))
	for _, name := range order {
		out = append(out, *byName[name])
	}
	return out
}

// MeshReport is the -o json|yaml form of `calico-node-status mesh`.
type MeshReport struct {
	metav1.TypeMeta `json:",inline"`
	// Healthy is true when no expected session is broken.
	Healthy bool `json:"healthy"`
	// Counts are the expected sessions per verdict.
	Counts map[mesh.Verdict]int `json:"counts"`
	mesh.Result
}

// DeepCopyObject makes MeshReport a runtime.Object for cli-runtime's printers.
func (r *MeshReport) DeepCopyObject() runtime.Object {
	c := *r
	c.Counts = make(map[mesh.Verdict]int, len(r.Counts))
	for k, v := range r.Counts {
		c.Counts[k] = v
	}
	c.Nodes = slices.Clone(r.Nodes)
	c.MeshFamilies = slices.Clone(r.MeshFamilies)
	c.NoReport = slices.Clone(r.NoReport)
	c.Stale = slices.Clone(r.Stale)
	c.Pairs = slices.Clone(r.Pairs)
	for i := range c.Pairs {
		for _, e := range []*mesh.End{&c.Pairs[i].A, &c.Pairs[i].B} {
			if e.Session != nil {
				s := *e.Session
				e.Session = &s
			}
		}
	}
	return &c
}

// NewMeshReport wraps a result with its apiVersion and kind.
func NewMeshReport(res mesh.Result) *MeshReport {
	r := &MeshReport{Result: res, Counts: res.Counts(), Healthy: len(res.Broken()) == 0}
	r.APIVersion, r.Kind = ViewGroupVersion.String(), "MeshReport"
	if r.Pairs == nil {
		r.Pairs = []mesh.Pair{}
	}
	return r
}

// MeshText writes the mesh view: a summary per kind of session, the matrix of each mesh family when the
// cluster has at most matrixMax nodes (or always, or never: matrixMax < 0 never, 0 always), the broken
// sessions with what each end says, and the nodes that could not be asked. Every string is escaped.
func MeshText(w io.Writer, res mesh.Result, matrixMax int) error {
	var b bytes.Buffer
	counts := map[string]map[mesh.Verdict]int{}
	kinds := []string{}
	for _, p := range res.Pairs {
		k := kindTitle(p)
		if counts[k] == nil {
			counts[k] = map[mesh.Verdict]int{}
			kinds = append(kinds, k)
		}
		counts[k][p.Verdict]++
	}
	fmt.Fprintf(&b, "Nodes: %d", len(res.Nodes))
	if n := len(res.NoReport); n > 0 {
		fmt.Fprintf(&b, " (%d without a BGP status)", n)
	}
	b.WriteString("\n")
	if len(res.MeshFamilies) == 0 {
		b.WriteString("Node-to-node mesh: not reported by any node (disabled, or route reflectors only)\n")
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "%s: %s\n", k, verdictCounts(counts[k]))
	}
	draw := matrixMax == 0 || (matrixMax > 0 && len(res.Nodes) <= matrixMax)
	if draw {
		for _, fam := range res.MeshFamilies {
			b.WriteString("\n")
			writeMatrix(&b, res, fam)
		}
	}
	broken := res.Broken()
	b.WriteString("\n")
	if len(broken) == 0 {
		b.WriteString("No broken sessions.\n")
	} else {
		fmt.Fprintf(&b, "Broken sessions (%d):\n", len(broken))
		t := BrokenTable(broken)
		if err := PrintTable(&b, t, false); err != nil {
			return err
		}
	}
	if len(res.NoReport) > 0 {
		fmt.Fprintf(&b, "\nNo BGP status from: %s (create one per node: enable --all-nodes)\n", Escape(strings.Join(res.NoReport, ", ")))
	}
	if len(res.Stale) > 0 {
		fmt.Fprintf(&b, "Stale status from: %s (their sessions may have changed since)\n", Escape(strings.Join(res.Stale, ", ")))
	}
	if !draw && len(res.MeshFamilies) > 0 {
		fmt.Fprintf(&b, "(%d nodes: matrix not drawn; --matrix always draws it)\n", len(res.Nodes))
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write mesh view: %w", err)
	}
	return nil
}

func kindTitle(p mesh.Pair) string {
	switch p.Kind {
	case mesh.KindMesh:
		return string(p.Family) + " node-to-node mesh"
	case mesh.KindNodePair:
		return string(p.Family) + " peerings between nodes"
	}
	return string(p.Family) + " external peers"
}

func verdictCounts(c map[mesh.Verdict]int) string {
	total := 0
	var parts []string
	for _, v := range []mesh.Verdict{mesh.Up, mesh.Down, mesh.OneSided, mesh.MissingOnOneSide, mesh.MissingOnBoth, mesh.Unknown} {
		if c[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[v], v))
			total += c[v]
		}
	}
	return fmt.Sprintf("%d sessions: %s", total, strings.Join(parts, ", "))
}

// Matrix cells: what the row's node reports about the column's node.
const matrixLegend = "row: what the node reports about the column's node; E Established, x listed but not Established, - not listed, ? no status, * verdict broken"

func writeMatrix(b *bytes.Buffer, res mesh.Result, fam v3.IPFamily) {
	cell := map[[2]string]string{}
	for _, p := range res.Pairs {
		if p.Kind != mesh.KindMesh || p.Family != fam {
			continue
		}
		mark := ""
		if p.Broken {
			mark = "*"
		}
		cell[[2]string{p.A.Node, p.B.Node}] = endMark(p.A.State) + mark
		cell[[2]string{p.B.Node, p.A.Node}] = endMark(p.B.State) + mark
	}
	fmt.Fprintf(b, "%s mesh (%s)\n", fam, matrixLegend)
	tw := tabwriter.NewWriter(b, 0, 8, 1, ' ', tabwriter.AlignRight)
	// Columns are numbered: names would make the matrix as wide as the longest name times the nodes.
	fmt.Fprint(tw, "\t\t")
	for i := range res.Nodes {
		fmt.Fprintf(tw, "%d\t", i+1)
	}
	fmt.Fprintln(tw, "")
	for i, row := range res.Nodes {
		fmt.Fprintf(tw, "%d\t%s\t", i+1, Escape(row))
		for _, col := range res.Nodes {
			c, ok := cell[[2]string{row, col}]
			switch {
			case row == col:
				c = "."
			case !ok:
				c = " " // not a member of this family's mesh (no address in it)
			}
			fmt.Fprintf(tw, "%s\t", c)
		}
		fmt.Fprintln(tw, "")
	}
	_ = tw.Flush() // writes to a bytes.Buffer cannot fail
}

func endMark(s mesh.EndState) string {
	switch s {
	case mesh.EndEstablished:
		return "E"
	case mesh.EndDown:
		return "x"
	case mesh.EndNotListed:
		return "-"
	}
	return "?"
}

// BrokenTable is the broken pairs as a table: family, kind, the two ends (B: the peer's address for an
// external peer), the verdict and what each end says.
func BrokenTable(pairs []mesh.Pair) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Family", Type: "string"}, {Name: "Kind", Type: "string"}, {Name: "Node A", Type: "string"},
		{Name: "Node B / Peer", Type: "string"}, {Name: "Verdict", Type: "string"}, {Name: "A Says", Type: "string"},
		{Name: "B Says", Type: "string"},
	}}
	for _, p := range pairs {
		b, bSays := p.B.Node, p.B.Says()
		if p.Kind == mesh.KindExternal {
			b, bSays = p.Peer, "-"
		}
		cells := []any{string(p.Family), string(p.Kind), p.A.Node, b, string(p.Verdict), p.A.Says(), bSays}
		for i, c := range cells {
			cells[i] = Escape(c.(string))
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: cells})
	}
	return t
}

// MatrixMaxFlag parses --matrix: "auto" (DefaultMatrixMaxNodes), "always", "never" or a node count.
func MatrixMaxFlag(s string) (int, error) {
	switch s {
	case "", "auto":
		return DefaultMatrixMaxNodes, nil
	case "always":
		return 0, nil
	case "never":
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("--matrix %q: want auto, always, never or a number of nodes (at least 1)", s)
	}
	return n, nil
}
