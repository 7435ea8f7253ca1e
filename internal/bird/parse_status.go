package bird

import (
	"bytes"
)

// Reply codes BIRD uses in the replies parsed here (nest/cli.h and the cli_msg calls in nest/*.c).
const (
	codeStatusVersion  = 1000 // "BIRD 1.6.8"
	codeStatusDetail   = 1011 // "Router ID is ...", "Last reboot on ..."
	codeStatusFinal    = 13   // "Daemon is up and running"
	codeProtoHeading   = 2002 // "name proto table state since info"
	codeProtoLine      = 1002 // one protocol
	codeProtoDetail    = 1006 // the details of `show protocols all`
	codeRouteLine      = 1007 // routes, their next hops, "Table master4:"
	codeRouteType      = 1008 // "Type: BGP unicast univ" (show route all)
	codeRouteAttribute = 1012 // "BGP.as_path: ..." (show route all)
)

const daemonUp = "Daemon is up and running"

// statusParser parses `show status`. BIRD 1.6 and 2.x print it alike, except that 2.x adds a
// "Hostname is" line and milliseconds to the times.
type statusParser struct {
	cmd      string
	st       Status
	warnings []Warning
	sawFinal bool
}

func (p *statusParser) line(code int, text []byte, lineNo int) {
	switch code {
	case codeStatusVersion:
		f, rest := nextField(text)
		if string(f) != "BIRD" {
			p.warn(lineNo, text, "expected \"BIRD <version>\"")
			return
		}
		v, _ := nextField(rest)
		major, ok := majorOf(string(v))
		if !ok {
			p.warn(lineNo, text, "unreadable version")
			return
		}
		p.st.Version, p.st.Major = string(v), major
	case codeStatusDetail:
		t := trimSpace(text)
		switch {
		case bytes.HasPrefix(t, []byte("Router ID is ")):
			// BIRD 3 appends the ID in other notations after it; the first field is the dotted quad.
			id, _ := nextField(t[len("Router ID is "):])
			if _, ok := parseIPv4(id); !ok {
				p.warn(lineNo, text, "unreadable router ID")
				return
			}
			p.st.RouterID = string(id)
		case bytes.HasPrefix(t, []byte("Last reboot on ")):
			p.st.BootTime = string(trimFraction(t[len("Last reboot on "):]))
		case bytes.HasPrefix(t, []byte("Last reconfiguration on ")):
			p.st.LastReconfiguration = string(trimFraction(t[len("Last reconfiguration on "):]))
		}
		// "Current server time", "Hostname", graceful-restart lines: not part of the snapshot.
	case codeStatusFinal:
		p.sawFinal = true
		p.st.Message = string(trimSpace(text))
		p.st.Up = p.st.Message == daemonUp
	}
}

func (p *statusParser) warn(lineNo int, text []byte, err string) {
	p.warnings = appendWarning(p.warnings, p.cmd, lineNo, text, err)
}

// appendWarning records a skipped line; the list is bounded so a reply of garbage cannot grow it without
// end (the count of dropped warnings is in the last one).
func appendWarning(ws []Warning, cmd string, lineNo int, text []byte, err string) []Warning {
	const maxWarnings = 100
	if len(ws) >= maxWarnings {
		last := &ws[len(ws)-1]
		last.Err = "further unparsable lines skipped"
		last.Text, last.Line = "", lineNo
		return ws
	}
	return append(ws, Warning{Command: cmd, Line: lineNo, Text: truncateForError(text), Err: err})
}
