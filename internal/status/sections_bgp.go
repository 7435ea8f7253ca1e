package status

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// Calico's BGP protocol name prefixes (confd bird.cfg.template / bird6.cfg.template).
const (
	prefixMesh   = "Mesh_"
	prefixNode   = "Node_"
	prefixGlobal = "Global_"
)

func buildBGP(s *bird.Snapshot, opts Options) *v3.CalicoNodeBGPStatus {
	out := &v3.CalicoNodeBGPStatus{}
	for i, d := range families(s) {
		fam := apiFamily(i)
		var peers []v3.CalicoNodePeer
		var est, notEst int
		switch {
		case notCollected(d.ProtocolsErr):
		case d.ProtocolsErr != nil:
			out.Issues = append(out.Issues, errorIssue(fam, protocolsStep, "", d.ProtocolsErr))
		default:
			peers, est, notEst = mapPeers(d.Protocols)
			if kept := capPeers(peers, opts.maxPeers()); len(kept) < len(peers) {
				out.PeersTruncated = true
				out.Issues = append(out.Issues, v3.StatusIssue{Family: fam, Reason: v3.ReasonPeersTruncated,
					Message: fmt.Sprintf("listing %d of %d sessions (the agent's cap); sessions not established are listed first, the counts include all", len(kept), len(peers))})
				peers = kept
			}
		}
		if is, ok := warningsIssue(fam, d.Warnings, warnBGP); ok {
			out.Issues = append(out.Issues, is)
		}
		if i == 0 {
			out.PeersV4, out.NumberEstablishedV4, out.NumberNotEstablishedV4 = peers, est, notEst
		} else {
			out.PeersV6, out.NumberEstablishedV6, out.NumberNotEstablishedV6 = peers, est, notEst
		}
	}
	out.Issues = capIssues(out.Issues)
	return out
}

// capPeers keeps at most max peers, choosing the sessions that are not established first (they are what an
// operator looks for), then established ones, each in list order; the result stays in list order.
func capPeers(peers []v3.CalicoNodePeer, max int) []v3.CalicoNodePeer {
	if len(peers) <= max {
		return peers
	}
	keep := make([]bool, len(peers))
	n := 0
	for _, wantEstablished := range []bool{false, true} {
		for i := range peers {
			if n == max {
				break
			}
			if (peers[i].State == v3.BGPSessionStateEstablished) == wantEstablished {
				keep[i] = true
				n++
			}
		}
	}
	out := make([]v3.CalicoNodePeer, 0, max)
	for i := range peers {
		if keep[i] {
			out = append(out, peers[i])
		}
	}
	return out
}

// mapPeers maps every BGP protocol to a peer, sorted, and counts them. Protocols that are not BGP are
// not peers.
func mapPeers(protos []bird.Protocol) (peers []v3.CalicoNodePeer, established, notEstablished int) {
	type keyed struct {
		addr netip.Addr
		peer v3.CalicoNodePeer
	}
	var ks []keyed
	for i := range protos {
		p := &protos[i]
		if !isKind(p, "BGP") {
			continue
		}
		addr, peer := mapPeer(p)
		if peer.State == v3.BGPSessionStateEstablished {
			established++
		} else {
			notEstablished++
		}
		ks = append(ks, keyed{addr, peer})
	}
	if len(ks) == 0 {
		return nil, 0, 0
	}
	// Peer IP first (as the contract says); the zone and the protocol name make the order total, so
	// the input order never shows through.
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(
			a.addr.WithZone("").Compare(b.addr.WithZone("")),
			comparePeers(&a.peer, &b.peer),
		)
	})
	peers = make([]v3.CalicoNodePeer, len(ks))
	for i := range ks {
		peers[i] = ks[i].peer
	}
	return peers, established, notEstablished
}

// comparePeers orders peers of the same address by zone and protocol name, then by every other field, so
// that even duplicate names (BIRD never prints them, a damaged reply might) cannot make the order depend
// on the input's.
func comparePeers(a, b *v3.CalicoNodePeer) int {
	return cmp.Or(
		cmp.Compare(a.Zone, b.Zone),
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.State, b.State),
		cmp.Compare(a.Since, b.Since),
		cmp.Compare(a.Info, b.Info),
		cmp.Compare(a.NeighborAS, b.NeighborAS),
		cmp.Compare(a.HoldTimeSeconds, b.HoldTimeSeconds),
		cmp.Compare(a.RoutesImported, b.RoutesImported),
		cmp.Compare(a.RoutesExported, b.RoutesExported),
	)
}

// peerType is Calico's peer type from the protocol name; "" for a BGP protocol Calico did not name
// (a hand-written or templated addition), which the contract's optional type leaves out.
func peerType(name string) v3.BGPPeerType {
	switch {
	case strings.HasPrefix(name, prefixMesh):
		return v3.BGPPeerTypeNodeMesh
	case strings.HasPrefix(name, prefixNode):
		return v3.BGPPeerTypeNodePeer
	case strings.HasPrefix(name, prefixGlobal):
		return v3.BGPPeerTypeGlobalPeer
	}
	return ""
}

// neighbor is the protocol's neighbor address with its zone: BIRD may print the zone in the address
// ("fe80::1%eth0") or only as the session's interface; both mean the same, so both give the same zone.
func neighbor(p *bird.Protocol) netip.Addr {
	if p.BGP == nil || !p.BGP.Neighbor.IsValid() {
		return netip.Addr{}
	}
	a := p.BGP.Neighbor
	if a.Zone() == "" && p.BGP.Interface != "" && a.Is6() && (a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()) {
		a = a.WithZone(p.BGP.Interface)
	}
	return a
}

// addrString is an address without zone, "" when invalid (never the string "invalid IP").
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.WithZone("").String()
}

func mapPeer(p *bird.Protocol) (netip.Addr, v3.CalicoNodePeer) {
	addr := neighbor(p)
	state, info := sessionState(p)
	peer := v3.CalicoNodePeer{
		PeerIP:         addrString(addr),
		Type:           peerType(p.Name),
		State:          state,
		Since:          clampShort(p.Since),
		Protocol:       clampShort(p.Name),
		Info:           info,
		Zone:           clampShort(addr.Zone()),
		RoutesImported: p.Routes.Imported,
		RoutesExported: p.Routes.Exported,
	}
	if p.BGP != nil {
		peer.NeighborAS = int64(p.BGP.NeighborAS)
		peer.HoldTimeSeconds = durationSeconds(p.BGP.HoldTime)
	}
	return addr, peer
}

func durationSeconds(d time.Duration) int32 {
	s := d / time.Second
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	if s < 0 {
		return 0
	}
	return int32(s)
}

// bgpStates maps BIRD's BGP state words (bgp_state_dsc in BIRD's proto/bgp/bgp.c, the same in 1.6 and
// 2.x) to the contract. The RFC 4271 states map to themselves. The others, BIRD's own words, map to the
// RFC state that describes what the session does, and the word itself goes to Info (see doc.go):
//   - Passive: BIRD waits for the peer to connect (passive mode); RFC 4271 calls a speaker that listens
//     for the peer's connection Active (8.2.2, PassiveTcpEstablishment).
//   - Down: the protocol is down (disabled, or shut down after an error); RFC 4271 Idle refuses all
//     connections, which is what a down protocol does.
//   - Start: not a BGP state BIRD prints, but the protocol state "start" says the session is being set
//     up; RFC 4271's Start event moves Idle to Connect.
var bgpStates = map[string]struct {
	state  v3.BGPSessionState
	native bool // BIRD's own word, not an RFC state: kept in Info
}{
	"idle":        {v3.BGPSessionStateIdle, false},
	"connect":     {v3.BGPSessionStateConnect, false},
	"active":      {v3.BGPSessionStateActive, false},
	"opensent":    {v3.BGPSessionStateOpenSent, false},
	"openconfirm": {v3.BGPSessionStateOpenConfirm, false},
	"established": {v3.BGPSessionStateEstablished, false},
	"close":       {v3.BGPSessionStateClose, false},
	"passive":     {v3.BGPSessionStateActive, true},
	"down":        {v3.BGPSessionStateIdle, true},
	"start":       {v3.BGPSessionStateConnect, true},
}

// protocolStates maps BIRD's protocol state column (proto_state_name: down, start, up, feed, stop, flush)
// to a BGP state word, used only when BIRD printed no BGP state.
var protocolStates = map[string]string{
	"up":    "Established", // a BGP protocol is up exactly while its session is established
	"feed":  "Established", // up, still sending its routes to the peer
	"start": "Start",
	"stop":  "Close", // shutting the session down
	"down":  "Down",
	"flush": "Down", // down, its routes being withdrawn
}

// InfoDisabled is the Info of a BGP session switched off on purpose (BIRD's protocol down with no error
// recorded: `disabled` in the config, `birdc disable`). BIRD does not retry such a session; the agent
// tells it apart from a session that is down and retrying by this value.
const InfoDisabled = "Down (disabled)"

// sessionState maps a BGP protocol to the contract's state and the Info text: what BIRD says beyond the
// state, empty when Established. Every BIRD word maps to a contract value or, for a word this code does
// not know (a future BIRD), to "" (unknown), with the word kept in Info.
func sessionState(p *bird.Protocol) (v3.BGPSessionState, string) {
	protoState := strings.ToLower(strings.TrimSpace(p.State))
	infoFields := strings.Fields(p.Info)

	// The word: BIRD's "BGP state:" line; else the info column's first word, which BIRD prints from the
	// same function unless the protocol is down; else the protocol state.
	word := ""
	if p.BGP != nil {
		word = strings.TrimSpace(p.BGP.State)
	}
	infoRest := strings.Join(infoFields, " ")
	if protoState == "down" || protoState == "flush" {
		// BIRD prints no state word in the info column of a down protocol, only the error.
		if word == "" {
			word = "Down"
		}
	} else if len(infoFields) > 0 {
		if _, known := bgpStates[strings.ToLower(infoFields[0])]; known && word == "" {
			word = infoFields[0]
		}
		if strings.EqualFold(infoFields[0], word) {
			infoRest = strings.Join(infoFields[1:], " ")
		}
	}
	if word == "" {
		word = protocolStates[protoState]
	}

	m, known := bgpStates[strings.ToLower(word)]
	if known && m.state == v3.BGPSessionStateEstablished {
		// A last error BIRD still prints for an established session is about an earlier one.
		return m.state, ""
	}

	reason := ""
	if p.BGP != nil {
		reason = strings.Join(strings.Fields(p.BGP.LastError), " ")
	}
	if reason == "" {
		reason = infoRest
	}

	native := word
	if known && !m.native {
		native = ""
	}
	info := reason
	switch {
	case native != "" && strings.EqualFold(native, "down") && reason == "":
		// Down with no error recorded: BIRD's manual shutdown (config `disabled`, `birdc disable`).
		info = InfoDisabled
	case native != "" && reason != "":
		info = native + " (" + reason + ")"
	case native != "":
		info = native
	}
	if !known {
		return "", clampMessage(info)
	}
	return m.state, clampMessage(info)
}

// isKind compares BIRD's protocol kind case-insensitively (BIRD prints BGP, Kernel, Device, ...).
func isKind(p *bird.Protocol, kind string) bool {
	return strings.EqualFold(p.Kind, kind)
}
