package collect

import (
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
