package bird

import (
	"bytes"
	"strconv"
	"time"
)

// protocolsParser parses `show protocols all` (and plain `show protocols`, which is its first lines).
//
// BIRD 1.6 (nest/proto.c, proto/bgp/bgp.c):
//
//	2002-name     proto    table    state  since       info
//	1002-Mesh_10_9_0_2 BGP      master   up     10:13:59    Established
//	1006-  Preference:     100
//	   Routes:         6 imported, 6 exported, 6 preferred
//	   BGP state:          Established
//	     Neighbor address: 10.9.0.2
//	     Hold timer:       204/240
//
// BIRD 2.x capitalises the heading, prints milliseconds, puts the BGP block first and the counters under
// one "Channel ipv4"/"Channel ipv6" block each (summed here), and prints "Local AS".
type protocolsParser struct {
	cmd   string
	major int
	// family fills BGPSession.Channels for BIRD 1.6, whose daemons serve one family each.
	family   Family
	protos   []Protocol
	warnings []Warning
	strs     interner
	cur      *Protocol // nil before the first protocol line and after one that could not be read
	// skipping is set after a protocol line that could not be read: its details are dropped with it,
	// under the one warning about that line.
	skipping bool
}

func newProtocolsParser(cmd string, major int, family Family) *protocolsParser {
	return &protocolsParser{cmd: cmd, major: major, family: family, strs: interner{}}
}

// result returns the protocols; an empty reply gives an empty, non-nil slice (a reply was read).
func (p *protocolsParser) result() []Protocol {
	p.cur = nil
	if p.protos == nil {
		return []Protocol{}
	}
	return p.protos
}

func (p *protocolsParser) line(code int, text []byte, lineNo int) {
	switch code {
	case codeProtoHeading, 0:
		return
	case codeProtoLine:
		p.protocolLine(text, lineNo)
	case codeProtoDetail:
		if p.cur == nil {
			if !p.skipping && len(trimSpace(text)) != 0 {
				p.warn(lineNo, text, "protocol detail before any protocol line")
			}
			return
		}
		if p.major >= 2 {
			p.detail2(text, lineNo)
		} else {
			p.detail1(text, lineNo)
		}
	}
}

// protocolLine reads "name proto table state since info". since is one field ("10:13:59", "2021-10-18")
// or two with `timeformat protocol iso long` ("2021-10-18 10:13:59"); info is the rest, blanks collapsed.
func (p *protocolsParser) protocolLine(text []byte, lineNo int) {
	var f [5][]byte
	rest := text
	for i := range f {
		f[i], rest = nextField(rest)
		if len(f[i]) == 0 {
			p.cur, p.skipping = nil, true
			p.warn(lineNo, text, "protocol line has fewer than 5 fields")
			return
		}
	}
	since := f[4]
	if isDate(since) {
		if t, r := nextField(rest); isClock(t) {
			// Both fields are views of text: cap() gives their offsets in it.
			since = text[cap(text)-cap(since) : cap(text)-cap(t)+len(t)]
			rest = r
		}
	}
	p.protos = append(p.protos, Protocol{
		Name:  string(f[0]),
		Kind:  p.strs.get(f[1]),
		Table: p.strs.get(f[2]),
		State: p.strs.get(f[3]),
		Since: p.strs.get(trimFraction(since)),
		Info:  string(collapseSpace(rest)),
	})
	p.cur, p.skipping = &p.protos[len(p.protos)-1], false
	if p.cur.Kind == "BGP" {
		p.cur.BGP = &BGPSession{}
		if p.major < 2 && p.family != 0 {
			p.cur.BGP.Channels = []Family{p.family}
		}
	}
}

// detail1 reads one BIRD 1.6 detail line.
func (p *protocolsParser) detail1(text []byte, lineNo int) {
	key, val, ok := cutKey(text)
	if !ok {
		return // blank separator lines, capability lists
	}
	if string(key) == "Routes" {
		p.routeCounts(val, text, lineNo)
		return
	}
	p.bgpDetail(key, val, text, lineNo)
}

// detail2 reads one BIRD 2.x detail line: the BGP block, then one block per channel.
func (p *protocolsParser) detail2(text []byte, lineNo int) {
	t := trimSpace(text)
	if bytes.HasPrefix(t, []byte("Channel ")) {
		if p.cur.BGP != nil {
			switch string(trimSpace(t[len("Channel "):])) {
			case "ipv4":
				p.cur.BGP.Channels = append(p.cur.BGP.Channels, IPv4)
			case "ipv6":
				p.cur.BGP.Channels = append(p.cur.BGP.Channels, IPv6)
			}
		}
		return
	}
	key, val, ok := cutKey(text)
	if !ok {
		return
	}
	if string(key) == "Routes" {
		p.routeCounts(val, text, lineNo)
		return
	}
	p.bgpDetail(key, val, text, lineNo)
}

// routeCounts adds "6 imported, 1 filtered, 6 exported, 6 preferred" to the protocol's counters (BIRD 2
// prints one such line per channel).
func (p *protocolsParser) routeCounts(val, text []byte, lineNo int) {
	var rc RouteCounts
	for len(val) > 0 {
		var item []byte
		if i := bytes.IndexByte(val, ','); i >= 0 {
			item, val = val[:i], val[i+1:]
		} else {
			item, val = val, nil
		}
		num, rest := nextField(item)
		word, _ := nextField(rest)
		n, ok := parseInt64(num)
		if !ok {
			p.warn(lineNo, text, "unreadable route counter "+strconv.Quote(string(item)))
			return
		}
		switch string(word) {
		case "imported":
			rc.Imported = n
		case "filtered":
			rc.Filtered = n
		case "exported":
			rc.Exported = n
		case "preferred":
			rc.Preferred = n
		}
	}
	r := &p.cur.Routes
	r.Imported += rc.Imported
	r.Filtered += rc.Filtered
	r.Exported += rc.Exported
	r.Preferred += rc.Preferred
}

// bgpDetail reads the "key: value" lines of a BGP protocol's block; other keys are ignored.
func (p *protocolsParser) bgpDetail(key, val, text []byte, lineNo int) {
	b := p.cur.BGP
	if b == nil {
		return
	}
	var err string
	switch string(key) {
	case "BGP state":
		b.State = p.strs.get(val)
	case "Neighbor address":
		// "10.0.0.1", "fe80::1%eth0" (BIRD's %I%J: link-local with its interface).
		a, e := parseAddr(val)
		if e != nil {
			err = e.Error()
			break
		}
		b.Neighbor = a
		if z := a.Zone(); z != "" {
			b.Interface = z
		}
	case "Neighbor port":
		if n, ok := parseSmallUint(val, 65535); ok {
			if n != 179 {
				b.NeighborPort = n
			}
		} else {
			err = "unreadable port"
		}
	case "Neighbor AS":
		n, ok := parseUint32(val)
		if !ok {
			err = "unreadable AS number"
		}
		b.NeighborAS = n
	case "Local AS":
		n, ok := parseUint32(val)
		if !ok {
			err = "unreadable AS number"
		}
		b.LocalAS = n
	case "Neighbor ID":
		b.NeighborID = string(val)
	case "Source address":
		a, e := parseAddr(val)
		if e != nil {
			err = e.Error()
			break
		}
		b.SourceAddress = a
	case "Hold timer":
		d, ok := negotiatedTimer(val)
		if !ok {
			err = "unreadable timer"
		}
		b.HoldTime = d
	case "Keepalive timer":
		d, ok := negotiatedTimer(val)
		if !ok {
			err = "unreadable timer"
		}
		b.KeepaliveTime = d
	case "Last error":
		b.LastError = string(collapseSpace(val))
	case "Interface":
		if b.Interface == "" {
			b.Interface = p.strs.get(val)
		}
	}
	if err != "" {
		p.warn(lineNo, text, err)
	}
}

// negotiatedTimer reads "204/240" (1.6) or "203.913/240" (2.x): time left / negotiated value. The
// negotiated value is the one that describes the session.
func negotiatedTimer(b []byte) (time.Duration, bool) {
	i := bytes.IndexByte(b, '/')
	if i < 0 {
		return 0, false
	}
	n, ok := parseSmallUint(trimSpace(b[i+1:]), 1<<20)
	if !ok {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func (p *protocolsParser) warn(lineNo int, text []byte, err string) {
	p.warnings = appendWarning(p.warnings, p.cmd, lineNo, text, err)
}

// isDate matches "2021-10-18".
func isDate(b []byte) bool {
	return len(b) == 10 && b[4] == '-' && b[7] == '-' && isDigit(b[0]) && isDigit(b[3]) && isDigit(b[5]) &&
		isDigit(b[9])
}

// isClock matches "10:13:59" with optional fraction.
func isClock(b []byte) bool {
	return len(b) >= 8 && b[2] == ':' && b[5] == ':' && isDigit(b[0]) && isDigit(b[1]) && isDigit(b[7])
}
