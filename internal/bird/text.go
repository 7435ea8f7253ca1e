package bird

import (
	"bytes"
	"net/netip"
	"strconv"
	"unsafe"
)

// Small byte-level helpers for the parsers. They work on the framing's buffer without copying, so a
// 100k-route reply costs a handful of allocations rather than several per line.

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// nextField returns the first whitespace-separated field of b and the rest after it.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// cutKey splits "  Neighbor address: 10.0.0.1" into "Neighbor address" and "10.0.0.1".
func cutKey(b []byte) (key, value []byte, ok bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return nil, nil, false
	}
	return trimSpace(b[:i]), trimSpace(b[i+1:]), true
}

// trimFraction drops the fractional seconds BIRD 2 prints ("10:14:31.961", "2021-10-18 09:23:19.123") so
// both versions print alike.
func trimFraction(b []byte) []byte {
	i := len(b)
	for i > 0 && isDigit(b[i-1]) {
		i--
	}
	if i < len(b) && i >= 3 && b[i-1] == '.' && isDigit(b[i-2]) && isDigit(b[i-3]) {
		return b[:i-1]
	}
	return b
}

// collapseSpace returns b with runs of blanks replaced by one space and the ends trimmed. It returns b
// itself when there is nothing to collapse.
func collapseSpace(b []byte) []byte {
	b = trimSpace(b)
	need := false
	for i := 0; i+1 < len(b); i++ {
		if isSpace(b[i]) && (isSpace(b[i+1]) || b[i] == '\t') {
			need = true
			break
		}
	}
	if !need {
		return b
	}
	out := make([]byte, 0, len(b))
	sp := false
	for _, c := range b {
		if isSpace(c) {
			sp = true
			continue
		}
		if sp {
			out = append(out, ' ')
			sp = false
		}
		out = append(out, c)
	}
	return out
}

// interner shares one string per distinct text: protocol names, interfaces and times repeat across
// thousands of routes. It maps the text as read to its clean form (sanitize.go), so each distinct text
// is checked once, not once per route.
type interner map[string]string

// memo is a one-entry cache in front of an interner, for a field that mostly repeats from one line to
// the next (consecutive routes from the same protocol, at the same time, via the same interface):
// comparing with the last value is cheaper than hashing.
type memo struct {
	last string
}

func (m *memo) get(in interner, b []byte) string {
	if string(b) == m.last { // no allocation for the comparison
		return m.last
	}
	m.last = in.get(b)
	return m.last
}

// addrMemo remembers the last address parsed: thousands of routes share one gateway.
type addrMemo struct {
	text []byte
	addr netip.Addr
}

func (m *addrMemo) parse(b []byte) (netip.Addr, error) {
	if m.text != nil && bytes.Equal(b, m.text) {
		return m.addr, nil
	}
	a, err := parseAddr(b)
	if err != nil {
		return a, err
	}
	m.text, m.addr = append(m.text[:0], b...), a
	return a, nil
}

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := cleanBytes(b)
	if len(in) >= 1<<14 || len(b) > 64 {
		// Bounded (about 2 MiB at most): a hostile reply of all-distinct or long names must not grow the
		// table without end. BIRD's names are at most 64 bytes (SYM_MAX_LEN), interfaces 15, times 19.
		return s
	}
	key := s
	if s != string(b) { // no allocation for the comparison
		key = string(b)
	}
	in[key] = s
	return s
}

// bstr views b as a string without copying, for parsers that do not keep their argument (netip, strconv).
// The result must not outlive the call it is passed to: b aliases the read buffer.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// parseAddr parses an IP address, IPv6 with an optional zone ("fe80::1%eth0").
func parseAddr(b []byte) (netip.Addr, error) {
	if a, ok := parseIPv4(b); ok {
		return a, nil
	}
	// netip copies the zone, and its error text is turned into a string by the caller at once.
	a, err := netip.ParseAddr(bstr(b))
	if err != nil {
		return netip.Addr{}, &parseError{what: "address", text: string(b)}
	}
	return cleanAddr(a), nil
}

// parsePrefix parses "10.0.0.0/8" or "fd00::/64".
func parsePrefix(b []byte) (netip.Prefix, error) {
	if i := bytes.IndexByte(b, '/'); i > 0 {
		if a, ok := parseIPv4(b[:i]); ok {
			if bits, ok := parseSmallUint(b[i+1:], 32); ok {
				return netip.PrefixFrom(a, bits), nil
			}
			return netip.Prefix{}, &parseError{what: "prefix", text: string(b)}
		}
	}
	p, err := netip.ParsePrefix(bstr(b))
	if err != nil || p.Addr().Zone() != "" {
		return netip.Prefix{}, &parseError{what: "prefix", text: string(b)}
	}
	return p, nil
}

// parseIPv4 is a fast path for dotted quads, the bulk of a large table.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	k := 0
	for i := 0; i < 4; i++ {
		if i > 0 {
			if k >= len(b) || b[k] != '.' {
				return netip.Addr{}, false
			}
			k++
		}
		v, n := 0, 0
		for k < len(b) && isDigit(b[k]) && n < 3 {
			v = v*10 + int(b[k]-'0')
			k++
			n++
		}
		if n == 0 || v > 255 || (n > 1 && b[k-n] == '0') {
			return netip.Addr{}, false
		}
		ip[i] = byte(v)
	}
	if k != len(b) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// parseSmallUint parses a decimal number no larger than max.
func parseSmallUint(b []byte, max int) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
		if v > max {
			return 0, false
		}
	}
	return v, true
}

func parseInt64(b []byte) (int64, bool) {
	v, err := strconv.ParseInt(bstr(b), 10, 64)
	return v, err == nil && v >= 0
}

func parseUint32(b []byte) (uint32, bool) {
	v, err := strconv.ParseUint(bstr(b), 10, 32)
	return uint32(v), err == nil
}

// parseError is a value a parser could not read.
type parseError struct {
	what, text string
}

func (e *parseError) Error() string { return "invalid " + e.what + " " + strconv.Quote(e.text) }
