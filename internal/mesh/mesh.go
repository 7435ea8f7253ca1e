package mesh

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Node is one node of the cluster as the analysis sees it.
type Node struct {
	Name string
	// Addrs are the node's addresses (any family); a session whose peer is one of them is a session to it.
	Addrs []netip.Addr
	// Report is what the node's agent last reported; nil when there is no usable report (no object asking
	// for the BGP class, or no BGP status written yet).
	Report *Report
}

// Report is one node's sessions as its agent last reported them.
type Report struct {
	// Object is the CalicoNodeStatus the sessions come from.
	Object string
	// Stale says why the report may not describe the node now ("" when it is current); its sessions are
	// still compared, and the ends say so.
	Stale    string
	Sessions []Session
}

// Session is one BGP session a node reports.
type Session struct {
	Family   v3.IPFamily        `json:"family"`
	Peer     netip.Addr         `json:"peer"`
	Type     v3.BGPPeerType     `json:"type,omitempty"`
	State    v3.BGPSessionState `json:"state,omitempty"`
	Info     string             `json:"info,omitempty"`
	Since    string             `json:"since,omitempty"`
	Protocol string             `json:"protocol,omitempty"`
}

// EndState is what one end of a pair says about the other.
type EndState string

const (
	EndEstablished EndState = "Established" // lists the other end, Established
	EndDown        EndState = "Down"        // lists the other end, in another state
	EndNotListed   EndState = "NotListed"   // reports, but has no session to the other end
	EndNoReport    EndState = "NoReport"    // has no usable report
)

// Verdict is the judgement of one expected session from both its ends.
type Verdict string

const (
	// Up: both ends say Established (an external peer: its one end does).
	Up Verdict = "Up"
	// Down: both ends list the session and neither says Established (an external peer: its end says
	// anything but Established).
	Down Verdict = "Down"
	// OneSided: one end says Established, the other does not list it or says otherwise.
	OneSided Verdict = "OneSided"
	// MissingOnOneSide: one end lists the session (not Established), the other does not list it at all.
	MissingOnOneSide Verdict = "MissingOnOneSide"
	// MissingOnBoth: an expected mesh session neither end lists.
	MissingOnBoth Verdict = "MissingOnBoth"
	// Unknown: an end that could say something has no report, and the other end alone does not show a fault.
	Unknown Verdict = "Unknown"
)

// Broken reports whether the verdict is a fault an operator must look at.
func (v Verdict) Broken() bool { return v != Up && v != Unknown }

// Kind says why a session is expected.
type Kind string

const (
	KindMesh     Kind = "NodeMesh" // the node-to-node mesh
	KindNodePair Kind = "NodePair" // an explicit peer (NodePeer or GlobalPeer) whose address is another node's
	KindExternal Kind = "External" // an explicit peer that is not a node of the cluster
)

// End is one end of an expected session.
type End struct {
	Node  string   `json:"node,omitempty"`
	State EndState `json:"state"`
	// Session is the session the end reports (State Established or Down).
	Session *Session `json:"session,omitempty"`
	// Stale is set when the end's report may be out of date.
	Stale string `json:"stale,omitempty"`
}

// Says is what the end says, in words: its state and BIRD's reason.
func (e End) Says() string {
	var s string
	switch e.State {
	case EndEstablished, EndDown:
		s = string(e.Session.State)
		if s == "" {
			s = "Unknown"
		}
		if e.Session.Type != "" && e.Session.Type != v3.BGPPeerTypeNodeMesh {
			s += " (" + string(e.Session.Type) + ")"
		}
		if e.Session.Info != "" {
			s += ": " + e.Session.Info
		}
	case EndNotListed:
		s = "not configured (no session to the other end)"
	case EndNoReport:
		s = "no report"
	}
	if e.Stale != "" {
		s += " [stale]"
	}
	return s
}

// Pair is one expected session and what its ends say. For a pair of nodes A is the node whose name sorts
// first; for an external peer A is the node and Peer the peer's address.
type Pair struct {
	Family  v3.IPFamily `json:"family"`
	Kind    Kind        `json:"kind"`
	A       End         `json:"a"`
	B       End         `json:"b"`
	Peer    string      `json:"peer,omitempty"`
	Verdict Verdict     `json:"verdict"`
	Broken  bool        `json:"broken"`
}

// Result is the comparison of the whole cluster.
type Result struct {
	// Nodes are the nodes, sorted by name.
	Nodes []string `json:"nodes"`
	// MeshFamilies are the families in which some node reports a NodeMesh session.
	MeshFamilies []v3.IPFamily `json:"meshFamilies"`
	// Pairs are every expected session: mesh pairs per family (by node names), then node pairs, then
	// external peers.
	Pairs []Pair `json:"pairs"`
	// NoReport are the nodes without a usable report; Stale those whose report may be out of date.
	NoReport []string `json:"noReport,omitempty"`
	Stale    []string `json:"stale,omitempty"`
}

// Counts are the pairs per verdict.
func (r *Result) Counts() map[Verdict]int {
	c := map[Verdict]int{}
	for _, p := range r.Pairs {
		c[p.Verdict]++
	}
	return c
}

// Broken returns the broken pairs.
func (r *Result) Broken() []Pair {
	var out []Pair
	for _, p := range r.Pairs {
		if p.Broken {
			out = append(out, p)
		}
	}
	return out
}

// Analyze compares the expected sessions with what every node reports.
func Analyze(nodes []Node) Result {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	var res Result
	owner := map[netip.Addr]string{} // address -> node (the first by name, should two claim one)
	byName := map[string]*Node{}
	for i := range nodes {
		n := &nodes[i]
		res.Nodes = append(res.Nodes, n.Name)
		byName[n.Name] = n
		for _, a := range n.Addrs {
			a = a.WithZone("")
			if _, taken := owner[a]; !taken && a.IsValid() {
				owner[a] = n.Name
			}
		}
		switch {
		case n.Report == nil:
			res.NoReport = append(res.NoReport, n.Name)
		case n.Report.Stale != "":
			res.Stale = append(res.Stale, n.Name)
		}
	}

	// used marks the sessions already placed in a pair: node name -> session index.
	used := map[string][]bool{}
	for i := range nodes {
		if r := nodes[i].Report; r != nil {
			used[nodes[i].Name] = make([]bool, len(r.Sessions))
		}
	}
	// find returns the session of from to the node to in fam (a mesh session first), marking it used.
	find := func(from *Node, to string, fam v3.IPFamily, meshFirst bool) (End, bool) {
		e := End{Node: from.Name}
		if from.Report == nil {
			e.State = EndNoReport
			return e, false
		}
		e.Stale = from.Report.Stale
		best := -1
		for i, s := range from.Report.Sessions {
			if used[from.Name][i] || s.Family != fam || owner[s.Peer.WithZone("")] != to {
				continue
			}
			if best < 0 || (meshFirst && s.Type == v3.BGPPeerTypeNodeMesh && from.Report.Sessions[best].Type != v3.BGPPeerTypeNodeMesh) {
				best = i
			}
		}
		if best < 0 {
			e.State = EndNotListed
			return e, false
		}
		used[from.Name][best] = true
		s := from.Report.Sessions[best]
		e.Session = &s
		e.State = EndDown
		if s.State == v3.BGPSessionStateEstablished {
			e.State = EndEstablished
		}
		return e, true
	}

	// The node-to-node mesh, per family where anyone reports it.
	for _, fam := range []v3.IPFamily{v3.IPFamilyV4, v3.IPFamilyV6} {
		on := false
		for i := range nodes {
			if r := nodes[i].Report; r != nil && slices.ContainsFunc(r.Sessions, func(s Session) bool {
				return s.Family == fam && s.Type == v3.BGPPeerTypeNodeMesh
			}) {
				on = true
			}
		}
		if !on {
			continue
		}
		res.MeshFamilies = append(res.MeshFamilies, fam)
		var members []*Node
		for i := range nodes {
			if slices.ContainsFunc(nodes[i].Addrs, func(a netip.Addr) bool { return familyOf(a) == fam && owner[a.WithZone("")] == nodes[i].Name }) {
				members = append(members, &nodes[i])
			}
		}
		for i, a := range members {
			for _, b := range members[i+1:] {
				ea, _ := find(a, b.Name, fam, true)
				eb, _ := find(b, a.Name, fam, true)
				res.Pairs = append(res.Pairs, judgePair(fam, KindMesh, ea, eb))
			}
		}
	}

	// Sessions left over: explicit peers between nodes, then external peers (and mesh sessions to addresses
	// of no known node).
	var nodePairs, external []Pair
	for i := range nodes {
		a := &nodes[i]
		if a.Report == nil {
			continue
		}
		for j, s := range a.Report.Sessions {
			if used[a.Name][j] {
				continue
			}
			used[a.Name][j] = true
			s := s
			ea := End{Node: a.Name, Session: &s, State: EndDown, Stale: a.Report.Stale}
			if s.State == v3.BGPSessionStateEstablished {
				ea.State = EndEstablished
			}
			if other, ok := owner[s.Peer.WithZone("")]; ok && other != a.Name {
				eb, _ := find(byName[other], a.Name, s.Family, false)
				p := judgePair(s.Family, KindNodePair, ea, eb)
				if eb.Node < ea.Node {
					p = judgePair(s.Family, KindNodePair, eb, ea)
				}
				nodePairs = append(nodePairs, p)
				continue
			}
			p := Pair{Family: s.Family, Kind: KindExternal, A: ea, B: End{State: EndNoReport}, Peer: s.Peer.String(), Verdict: Down}
			if ea.State == EndEstablished {
				p.Verdict = Up
			}
			p.Broken = p.Verdict.Broken()
			external = append(external, p)
		}
	}
	sortPairs(nodePairs)
	sortPairs(external)
	res.Pairs = append(append(res.Pairs, nodePairs...), external...)
	return res
}

// judgePair gives the verdict of a pair of nodes from its two ends.
func judgePair(fam v3.IPFamily, kind Kind, a, b End) Pair {
	p := Pair{Family: fam, Kind: kind, A: a, B: b}
	count := func(s EndState) int {
		n := 0
		for _, e := range []End{a, b} {
			if e.State == s {
				n++
			}
		}
		return n
	}
	est, down, missing, noReport := count(EndEstablished), count(EndDown), count(EndNotListed), count(EndNoReport)
	switch {
	case est == 2:
		p.Verdict = Up
	case est == 1 && noReport == 1:
		p.Verdict = Unknown // the reporting end says it is fine; the other cannot be asked
	case est == 1:
		p.Verdict = OneSided
	case down == 2, down == 1 && noReport == 1:
		p.Verdict = Down
	case down == 1 && missing == 1:
		p.Verdict = MissingOnOneSide
	case missing == 2:
		p.Verdict = MissingOnBoth
	case missing == 1:
		p.Verdict = MissingOnOneSide // the end that reports has no such session; the other cannot be asked
	default:
		p.Verdict = Unknown
	}
	p.Broken = p.Verdict.Broken()
	return p
}

func sortPairs(ps []Pair) {
	slices.SortFunc(ps, func(x, y Pair) int {
		return cmp.Or(cmp.Compare(x.Family, y.Family), cmp.Compare(x.A.Node, y.A.Node), cmp.Compare(x.B.Node, y.B.Node),
			comparePeer(x.Peer, y.Peer))
	})
}

func comparePeer(a, b string) int {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	if errX == nil && errY == nil {
		return x.Compare(y)
	}
	return strings.Compare(a, b)
}

func familyOf(a netip.Addr) v3.IPFamily {
	if a.Unmap().Is4() {
		return v3.IPFamilyV4
	}
	return v3.IPFamilyV6
}

// Calico's annotations of a node's BGP addresses (calico-node sets them: "10.0.0.1/24").
const (
	AnnotationIPv4Address = "projectcalico.org/IPv4Address"
	AnnotationIPv6Address = "projectcalico.org/IPv6Address"
)

// NodeAddresses returns the addresses a node peers from: its InternalIP addresses and Calico's
// annotations of its BGP addresses, without duplicates.
func NodeAddresses(n *corev1.Node) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			s = p.Addr().String()
		}
		if a, err := netip.ParseAddr(s); err == nil && !slices.Contains(out, a.Unmap()) {
			out = append(out, a.Unmap())
		}
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			add(a.Address)
		}
	}
	for _, k := range []string{AnnotationIPv4Address, AnnotationIPv6Address} {
		if v, ok := n.Annotations[k]; ok {
			add(v)
		}
	}
	return out
}
