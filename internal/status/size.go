package status

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// routeJSONSize is the length of encoding/json's encoding of r, computed without encoding it (Build maps
// up to 100k routes per collection; the cap is checked on each kept route). It follows the struct's
// field tags: every field is omitempty.
func routeJSONSize(r *v3.CalicoNodeRoute) int {
	var o objSize
	o.str("type", string(r.Type))
	o.str("destination", r.Destination)
	o.str("gateway", r.Gateway)
	o.str("interface", r.Interface)
	// learnedFrom is a struct: omitempty never drops it.
	var lf objSize
	lf.str("sourceType", string(r.LearnedFrom.SourceType))
	lf.str("peerIP", r.LearnedFrom.PeerIP)
	o.raw("learnedFrom", lf.size())
	if len(r.NextHops) > 0 {
		n := 2 + len(r.NextHops) - 1 // brackets, commas
		for _, h := range r.NextHops {
			var ho objSize
			ho.str("gateway", h.Gateway)
			ho.str("interface", h.Interface)
			if h.Weight != 0 {
				ho.raw("weight", len(strconv.FormatInt(int64(h.Weight), 10)))
			}
			n += ho.size()
		}
		o.raw("nextHops", n)
	}
	return o.size()
}

// objSize adds up a JSON object's length field by field.
type objSize struct {
	fields, n int
}

// str adds a string field, unless empty (omitempty).
func (o *objSize) str(key, v string) {
	if v == "" {
		return
	}
	o.raw(key, jsonStringSize(v))
}

// raw adds a field whose encoded value is n bytes long.
func (o *objSize) raw(key string, n int) {
	o.fields++
	o.n += jsonStringSize(key) + 1 + n // "key":value
}

func (o *objSize) size() int {
	if o.fields == 0 {
		return 2
	}
	return 2 + o.n + o.fields - 1 // braces, commas
}

// jsonStringSize is the length of s as encoding/json writes it, quotes included: HTML-escaped <, >, &,
// U+2028, U+2029 and control characters as \u00XX, invalid UTF-8 as \ufffd.
func jsonStringSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			n += 6
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += w
		}
		i += w
	}
	return n
}

// peerJSONSize is the length of encoding/json's encoding of p (every field is omitempty).
func peerJSONSize(p *v3.CalicoNodePeer) int {
	var o objSize
	o.str("peerIP", p.PeerIP)
	o.str("type", string(p.Type))
	o.str("state", string(p.State))
	o.str("since", p.Since)
	o.str("protocol", p.Protocol)
	o.str("info", p.Info)
	o.str("zone", p.Zone)
	o.int("neighborAS", p.NeighborAS)
	o.int("holdTimeSeconds", int64(p.HoldTimeSeconds))
	o.int("routesImported", p.RoutesImported)
	o.int("routesExported", p.RoutesExported)
	return o.size()
}

// flapFieldsRoom is the room the budget keeps in p's entry for the flap history the agent adds after the
// build (flapCount, lastEstablished: internal/agent/flaps.go), at their largest, so the written status
// stays within the budget whatever the history holds.
func flapFieldsRoom(p *v3.CalicoNodePeer) int {
	const (
		flapCount       = len(`,"flapCount":2147483647`)
		lastEstablished = len(`,"lastEstablished":"2006-01-02T15:04:05Z"`)
	)
	n := 0
	if p.FlapCount == 0 {
		n += flapCount
	}
	if p.LastEstablished == nil {
		n += lastEstablished
	}
	return n
}

// int adds an integer field, unless zero (omitempty).
func (o *objSize) int(key string, v int64) {
	if v != 0 {
		o.raw(key, len(strconv.FormatInt(v, 10)))
	}
}

func (o Options) maxStatusBytes() int {
	switch {
	case o.MaxStatusBytes == 0:
		return v3.DefaultMaxStatusBytes
	case o.MaxStatusBytes < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxStatusBytes
}

// budgetSlack is kept free for the issues fitBudget adds or rewords (two per section at most).
const budgetSlack = 2048

// fitBudget cuts the peer and route lists so the sections' JSON stays within opts' status budget. Peers
// come first (they are what an operator debugs), then routes; within each, the two families share what
// is left, one taking what the other does not need; within a list, the entries the caps keep first
// (sessions not established, FIB routes) are kept first, and the list stays in its order. A list cut
// here says so like one cut by its own cap (truncated, an issue naming the budget).
func fitBudget(out *Sections, opts Options) {
	budget := opts.maxStatusBytes()
	var peers, routes [2]sizedList
	if b := out.BGP; b != nil {
		peers[0] = sizePeers(b.PeersV4)
		peers[1] = sizePeers(b.PeersV6)
	}
	if r := out.Routes; r != nil {
		routes[0] = sizeRoutes(r.RoutesV4)
		routes[1] = sizeRoutes(r.RoutesV6)
	}
	lists := peers[0].bytes() + peers[1].bytes() + routes[0].bytes() + routes[1].bytes()
	if lists == 0 {
		return
	}
	fixed := fixedJSONSize(out)
	if fixed+lists <= budget {
		return
	}
	room := max(budget-fixed-budgetSlack, 0)
	pa, pb := share(room, peers[0].bytes(), peers[1].bytes())
	room -= min(room, pa+pb)
	ra, rb := share(room, routes[0].bytes(), routes[1].bytes())

	if b := out.BGP; b != nil {
		for i, keep := range []int{pa, pb} {
			list := &b.PeersV4
			total := b.NumberEstablishedV4 + b.NumberNotEstablishedV4
			if i == 1 {
				list, total = &b.PeersV6, b.NumberEstablishedV6+b.NumberNotEstablishedV6
			}
			kept := peers[i].keep(keep)
			if len(kept) == len(*list) {
				continue
			}
			*list = pick(*list, kept)
			b.PeersTruncated = true
			b.Issues = setIssue(b.Issues, apiFamily(i), v3.ReasonPeersTruncated, fmt.Sprintf(
				"listing %d of %d sessions (the status budget of %d bytes over all lists is reached); sessions not established are listed first, the counts include all",
				len(*list), total, budget))
		}
		b.Issues = capIssues(b.Issues)
	}
	if r := out.Routes; r != nil {
		for i, keep := range []int{ra, rb} {
			list, total := &r.RoutesV4, r.TotalV4
			if i == 1 {
				list, total = &r.RoutesV6, r.TotalV6
			}
			kept := routes[i].keep(keep)
			if len(kept) == len(*list) {
				continue
			}
			*list = pick(*list, kept)
			r.Truncated = true
			r.Issues = setIssue(r.Issues, apiFamily(i), v3.ReasonRoutesTruncated, fmt.Sprintf(
				"%d of %d routes listed (%s; the status budget of %d bytes over all lists is reached); FIB routes kept first",
				len(*list), total, opts.capsText(), budget))
		}
		r.Issues = capIssues(r.Issues)
	}
}

// sizedList is a list's entries' JSON sizes and their rank in what is kept first (0 before 1).
type sizedList struct {
	sizes, ranks []int
}

// listKeyBytes covers a list field's key, colon and comma ("peersV4": ..., ).
const listKeyBytes = 16

// bytes is the list's JSON size with its key; 0 when empty (omitempty).
func (l sizedList) bytes() int {
	if len(l.sizes) == 0 {
		return 0
	}
	n := listKeyBytes + 2 + len(l.sizes) - 1
	for _, s := range l.sizes {
		n += s
	}
	return n
}

// keep returns the indexes (ascending) of the entries kept within budget bytes: rank 0 entries in list
// order, then rank 1, stopping at the first that does not fit.
func (l sizedList) keep(budget int) []int {
	if l.bytes() <= budget {
		all := make([]int, len(l.sizes))
		for i := range all {
			all[i] = i
		}
		return all
	}
	left := budget - listKeyBytes - 2
	var kept []int
	for rank := 0; rank <= 1; rank++ {
		for i, s := range l.sizes {
			if l.ranks[i] != rank {
				continue
			}
			if s+1 > left {
				slices.Sort(kept)
				return kept
			}
			left -= s + 1
			kept = append(kept, i)
		}
	}
	slices.Sort(kept)
	return kept
}

func sizePeers(ps []v3.CalicoNodePeer) sizedList {
	l := sizedList{sizes: make([]int, len(ps)), ranks: make([]int, len(ps))}
	for i := range ps {
		l.sizes[i] = peerJSONSize(&ps[i]) + flapFieldsRoom(&ps[i])
		if ps[i].State == v3.BGPSessionStateEstablished {
			l.ranks[i] = 1
		}
	}
	return l
}

func sizeRoutes(rs []v3.CalicoNodeRoute) sizedList {
	l := sizedList{sizes: make([]int, len(rs)), ranks: make([]int, len(rs))}
	for i := range rs {
		l.sizes[i] = routeJSONSize(&rs[i])
		if rs[i].Type != v3.RouteTypeFIB {
			l.ranks[i] = 1
		}
	}
	return l
}

// share splits room between two lists needing a and b bytes: each gets half, and what one does not need
// goes to the other.
func share(room, a, b int) (int, int) {
	switch {
	case a+b <= room:
		return a, b
	case a <= room/2:
		return a, room - a
	case b <= room/2:
		return room - b, b
	}
	return room / 2, room - room/2
}

func pick[T any](list []T, idx []int) []T {
	if len(idx) == 0 {
		return nil
	}
	out := make([]T, len(idx))
	for j, i := range idx {
		out[j] = list[i]
	}
	return out
}

// setIssue rewords the family's issue of that reason, or adds one.
func setIssue(is []v3.StatusIssue, fam v3.IPFamily, reason, msg string) []v3.StatusIssue {
	msg = clampMessage(msg)
	for i := range is {
		if is[i].Family == fam && is[i].Reason == reason {
			is[i].Message = msg
			return is
		}
	}
	return append(is, v3.StatusIssue{Family: fam, Reason: reason, Message: msg})
}

// fixedJSONSize is the JSON size of the sections without their peer and route lists.
func fixedJSONSize(s *Sections) int {
	c := Sections{Agent: s.Agent}
	if s.BGP != nil {
		b := *s.BGP
		b.PeersV4, b.PeersV6 = nil, nil
		c.BGP = &b
	}
	if s.Routes != nil {
		r := *s.Routes
		r.RoutesV4, r.RoutesV6 = nil, nil
		c.Routes = &r
	}
	n := 0
	for _, v := range []any{c.Agent, c.BGP, c.Routes} {
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("status sections do not encode as JSON: %v", err)) // plain structs: cannot happen
		}
		n += len(b) + listKeyBytes
	}
	return n
}
