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

// ParseStatus reads one framed `show status` reply (without the greeting) from r. maxReply caps its size
// (DefaultMaxReplyBytes when 0).
func ParseStatus(r io.Reader, maxReply int64) (*Status, []Warning, error) {
	p := &statusParser{cmd: CmdStatus}
	if err := newLineReader(r, maxReply).readReply(CmdStatus, p.line); err != nil {
		return nil, p.warnings, err
	}
	if err := p.check(); err != nil {
		return nil, p.warnings, err
	}
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

// ParseProtocols reads one framed `show protocols [all]` reply of a BIRD of the given major version.
// family is the daemon's family for BIRD 1.6 (it fills BGPSession.Channels); 0 leaves it unset.
func ParseProtocols(r io.Reader, major int, family Family, maxReply int64) ([]Protocol, []Warning, error) {
	p := newProtocolsParser(CmdProtocols, major, family)
	if err := newLineReader(r, maxReply).readReply(CmdProtocols, p.line); err != nil {
		return nil, p.warnings, err
	}
	return p.result(), p.warnings, nil
}

// ParseRoutes reads one framed `show route [all]` reply of a BIRD of the given major version.
func ParseRoutes(r io.Reader, major int, maxReply int64) ([]Route, []Warning, error) {
	p := newRoutesParser(CmdRoutes, major, 0)
	if err := newLineReader(r, maxReply).readReply(CmdRoutes, p.line); err != nil {
		return nil, p.warnings, err
	}
	return p.result(), p.warnings, nil
}
