package bird

import (
	"errors"
	"net/netip"
	"unicode"
	"unicode/utf8"
)

// Every string the package hands out (in a Snapshot, a Warning or an error) is clean text: valid UTF-8
// without control characters. BIRD's replies are bytes from another process: a protocol named with an
// ESC sequence would reach a terminal through the CLI, and invalid UTF-8 would be stored by the API
// server as U+FFFD, so the status written would never equal the one computed and the agent would write
// every period. Cleaning once here, at the boundary, covers the status, metric labels, Events and logs.
//
// Cleaning is idempotent (clean text stays as it is) and keeps what is printable:
//   - a byte that is not part of valid UTF-8 becomes U+FFFD (what encoding/json does on the way to the
//     API server, so a round trip through it changes nothing);
//   - a control character (C0, DEL, C1) is written as an escape: \t, \n, \r, \x1b, \u0085, so what BIRD
//     said stays readable and no terminal interprets it.

// isCleanASCII reports whether b is printable ASCII only: the fast path of every line BIRD prints.
func isCleanASCII[T string | []byte](b T) bool {
	for i := 0; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// cleanBytes returns b as clean text (see above).
func cleanBytes(b []byte) string {
	if isCleanASCII(b) {
		return string(b)
	}
	return string(appendClean(make([]byte, 0, len(b)+8), b))
}

// cleanString returns s as clean text, s itself when it already is.
func cleanString(s string) string {
	if isCleanASCII(s) || isCleanUnicode(s) {
		return s
	}
	return string(appendClean(make([]byte, 0, len(s)+8), s))
}

// CleanText returns s as valid UTF-8 without control characters (escaped as \t, \x1b, \u0085, ...;
// invalid bytes as U+FFFD); s itself when it already is. Every string of a Snapshot is already clean.
func CleanText(s string) string { return cleanString(s) }

func isCleanUnicode(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			// RuneError is also what a literal U+FFFD decodes to: then the slow path copies it unchanged.
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

func appendClean[T string | []byte](dst []byte, b T) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < 0x7f {
			dst = append(dst, c)
			i++
			continue
		}
		if c < utf8.RuneSelf { // C0 or DEL
			switch c {
			case '\t':
				dst = append(dst, '\\', 't')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			continue
		}
		var r rune
		var w int
		switch v := any(b).(type) {
		case string:
			r, w = utf8.DecodeRuneInString(v[i:])
		case []byte:
			r, w = utf8.DecodeRune(v[i:])
		}
		switch {
		case r == utf8.RuneError && w == 1:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		case unicode.IsControl(r): // C1
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[(r>>4)&15], hexDigits[r&15])
		default:
			dst = append(dst, string(b[i:i+w])...)
		}
		i += w
	}
	return dst
}

// cleanAddr returns a with a clean zone: netip accepts any bytes after '%'.
func cleanAddr(a netip.Addr) netip.Addr {
	if z := a.Zone(); z != "" {
		if c := cleanString(z); c != z {
			return a.WithZone(c)
		}
	}
	return a
}

// cleanError wraps an error whose text may carry BIRD's words so that its message is clean text; Is and
// As still see the error it wraps.
type cleanError struct{ err error }

func (e *cleanError) Error() string { return cleanString(e.err.Error()) }
func (e *cleanError) Unwrap() error { return e.err }

// cleanErr returns err unchanged when its message is already clean, else wrapped in a cleanError.
func cleanErr(err error) error {
	if err == nil {
		return nil
	}
	var ce *cleanError
	if errors.As(err, &ce) && ce == err {
		return err
	}
	if msg := err.Error(); cleanString(msg) == msg {
		return err
	}
	return &cleanError{err}
}

// sanitize makes every string of d clean text (see above). The route parser already cleans what it
// keeps (its interner does), so that routes are selected on the strings that will be shown; this pass
// covers the rest and is cheap on text that is already clean.
func (d *DaemonSnapshot) sanitize() {
	if d.Status != nil {
		sanitizeStatus(d.Status)
	}
	for i := range d.Protocols {
		sanitizeProtocol(&d.Protocols[i])
	}
	for i := range d.Routes {
		sanitizeRoute(&d.Routes[i])
	}
	sanitizeWarnings(d.Warnings)
	d.StatusErr = cleanErr(d.StatusErr)
	d.ProtocolsErr = cleanErr(d.ProtocolsErr)
	d.RoutesErr = cleanErr(d.RoutesErr)
}

func sanitizeStatus(st *Status) {
	st.Version = cleanString(st.Version)
	st.RouterID = cleanString(st.RouterID)
	st.BootTime = cleanString(st.BootTime)
	st.LastReconfiguration = cleanString(st.LastReconfiguration)
	st.Message = cleanString(st.Message)
}

func sanitizeProtocol(p *Protocol) {
	p.Name = cleanString(p.Name)
	p.Kind = cleanString(p.Kind)
	p.Table = cleanString(p.Table)
	p.State = cleanString(p.State)
	p.Since = cleanString(p.Since)
	p.Info = cleanString(p.Info)
	if b := p.BGP; b != nil {
		b.State = cleanString(b.State)
		b.Neighbor = cleanAddr(b.Neighbor)
		b.SourceAddress = cleanAddr(b.SourceAddress)
		b.Interface = cleanString(b.Interface)
		b.NeighborID = cleanString(b.NeighborID)
		b.LastError = cleanString(b.LastError)
	}
}

func sanitizeRoute(r *Route) {
	r.Protocol = cleanString(r.Protocol)
	r.Since = cleanString(r.Since)
	r.From = cleanAddr(r.From)
	for i := range r.NextHops {
		h := &r.NextHops[i]
		h.Gateway = cleanAddr(h.Gateway)
		h.Interface = cleanString(h.Interface)
	}
}

func sanitizeWarnings(ws []Warning) {
	for i := range ws {
		w := &ws[i]
		w.Command = cleanString(w.Command)
		w.Text = cleanString(w.Text)
		w.Err = cleanString(w.Err)
	}
}
