package bird

import (
	"fmt"
	"io"
)

// The commands the Collector sends, one round trip each.
const (
	CmdStatus    = "show status"
	CmdProtocols = "show protocols all"
	CmdRoutes    = "show route"
)

// The Parse functions read one framed reply (without the greeting) from r, its size capped at maxReply
// bytes (DefaultMaxReplyBytes when 0). What they return is clean text (sanitize.go), as in a Snapshot.

// ParseStatus reads a `show status` reply.
func ParseStatus(r io.Reader, maxReply int64) (*Status, []Warning, error) {
	p := &statusParser{cmd: CmdStatus}
	err := newLineReader(r, maxReply).readReply(CmdStatus, p.line)
	if err == nil {
		err = p.check()
	}
	sanitizeWarnings(p.warnings)
	if err != nil {
		return nil, p.warnings, cleanErr(err)
	}
	sanitizeStatus(&p.st)
	return &p.st, p.warnings, nil
}

// check reports a reply that was complete but said nothing of what `show status` says. An empty or
// unreadable version is not an error: the status is reported with the version as printed.
func (p *statusParser) check() error {
	if !p.sawVersion || !p.sawFinal {
		return fmt.Errorf("bird %q: reply has no version or no final status line", p.cmd)
	}
	return nil
}

// ParseProtocols reads a `show protocols [all]` reply of a BIRD of the given major version. family is
// the daemon's family for BIRD 1.6 (it fills BGPSession.Channels); 0 leaves it unset.
func ParseProtocols(r io.Reader, major int, family Family, maxReply int64) ([]Protocol, []Warning, error) {
	p := newProtocolsParser(CmdProtocols, major, family)
	err := newLineReader(r, maxReply).readReply(CmdProtocols, p.line)
	sanitizeWarnings(p.warnings)
	if err != nil {
		return nil, p.warnings, cleanErr(err)
	}
	ps := p.result()
	for i := range ps {
		sanitizeProtocol(&ps[i])
	}
	return ps, p.warnings, nil
}

// ParseRoutes reads a `show route [all]` reply of a BIRD of the given major version, keeping every route.
func ParseRoutes(r io.Reader, major int, maxReply int64) ([]Route, []Warning, error) {
	p := newRoutesParser(CmdRoutes, major, 0)
	err := newLineReader(r, maxReply).readReply(CmdRoutes, p.line)
	sanitizeWarnings(p.warnings)
	if err != nil {
		return nil, p.warnings, cleanErr(err)
	}
	rs := p.result()
	for i := range rs {
		sanitizeRoute(&rs[i])
	}
	return rs, p.warnings, nil
}

// SelectRoutes reads a `show route [all]` reply into sel (see RouteSelection) instead of keeping every
// route: what the Collector does when it selects.
func SelectRoutes(r io.Reader, major int, maxReply int64, sel *RouteSelection) ([]Warning, error) {
	p := newSelectingParser(CmdRoutes, major, sel)
	err := newLineReader(r, maxReply).readReply(CmdRoutes, p.line)
	p.result()
	sanitizeWarnings(p.warnings)
	return p.warnings, cleanErr(err)
}
