package bird

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds one collection when Collector.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Need says which sections a collection reads; a section not needed is neither read nor reported.
type Need struct{ Status, Protocols, Routes bool }

// ErrNoSocket is the error of every needed section of a family that has no control socket configured.
var ErrNoSocket = errors.New("no control socket configured for this family")

// Collector reads the node's BIRD daemon(s) into a Snapshot. With BIRD 1.6, V4Socket (bird.ctl) and
// V6Socket (bird6.ctl) are two daemons, read concurrently and independently. When the daemon on V4Socket
// greets as BIRD 2 or later it serves both families: V4 and V6 are both filled from it, and whatever
// V6Socket gave (normally nothing: BIRD 2 has no bird6.ctl) is dropped; bird6.ctl is not required.
//
// Each collection opens its own connection per daemon (one for all of its commands) and closes it: a
// unix-socket connect costs microseconds, and it makes a restarted daemon a non-event. A command that
// fails on a broken connection makes the next command reconnect once.
//
// A Collector is safe for concurrent use; its fields must not change while a collection runs.
type Collector struct {
	V4Socket, V6Socket string
	// V4Fallbacks and V6Fallbacks are control sockets tried in order, at each collection, when V4Socket
	// (V6Socket) does not accept a connection: calico-node reads /var/run/calico/bird{,6}.ctl, then
	// /var/run/bird/bird{,6}.ctl. The first that accepts is read; DaemonSnapshot.Socket says which. Only
	// a failed connect moves on: a daemon that accepts and then answers wrongly is that daemon's error.
	V4Fallbacks, V6Fallbacks []string
	// Timeout bounds a whole collection (DefaultTimeout when 0); the context given to Collect can end it
	// sooner.
	Timeout time.Duration
	// MaxReplyBytes caps each reply (DefaultMaxReplyBytes when 0); a larger reply is an error of its
	// section.
	MaxReplyBytes int64
	// MaxRouteReplyBytes caps the routes reply instead of MaxReplyBytes when routes are selected
	// (MaxRoutes > 0): they are then streamed, so the reply's size costs time, not memory. 0 means
	// DefaultMaxRouteReplyBytes.
	MaxRouteReplyBytes int64
	// RoutesCommand is the command for the routes section, CmdRoutes when empty ("show route all" also
	// works: attribute lines are skipped). It must pass CheckCommand.
	RoutesCommand string
	// MaxRoutes, when > 0, keeps per family only the routes a status capped at MaxRoutes per list can
	// show (a RouteSelection) and counts the others in RouteTotals, so a full Internet table costs no more
	// memory than a small one. 0 keeps every route.
	MaxRoutes int
	// Restrict sends BIRD's "restrict" after the greeting (see Conn.Restrict): the session can then not
	// reconfigure or disable anything, whatever is sent on it. DaemonSnapshot.Restricted says whether the
	// daemon accepted it.
	Restrict bool

	// routeHint remembers how many routes the last collection saw per daemon socket family, so the next
	// one allocates its slice once (when keeping every route).
	routeHint [2]atomic.Int64
}

// DefaultMaxRouteReplyBytes is the routes reply cap when routes are selected and none is configured:
// about 4M routes of BIRD 1.6's `show route`, 1M of BIRD 2's `show route all`.
const DefaultMaxRouteReplyBytes = 1 << 30

// Collect reads what need asks for. It never fails as a whole: each section of each family carries its
// own error, so a missing bird6.ctl leaves the IPv4 sections intact. It never panics either: a parser
// that panics fails its section with a *PanicError (see recover.go).
func (c *Collector) Collect(ctx context.Context, need Need) (snap Snapshot) {
	snap = Snapshot{
		V4: DaemonSnapshot{Family: IPv4, Socket: c.V4Socket},
		V6: DaemonSnapshot{Family: IPv6, Socket: c.V6Socket},
	}
	if !need.Status && !need.Protocols && !need.Routes {
		return snap
	}
	defer func() {
		if v := recover(); v != nil {
			// Outside any one section: fail them all rather than report half a collection.
			err := newPanicError("collect", v)
			snap = Snapshot{
				V4: DaemonSnapshot{Family: IPv4, Socket: c.V4Socket},
				V6: DaemonSnapshot{Family: IPv6, Socket: c.V6Socket},
			}
			setAll(&snap.V4, need, err)
			setAll(&snap.V6, need, err)
		}
	}()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The IPv6 daemon is read on its own from the start, so an IPv4 daemon that hangs (BIRD is single
	// threaded: a long reconfiguration stops its CLI) cannot starve it. Its result is dropped if the IPv4
	// socket turns out to be a BIRD 2 serving both families (with BIRD 2 there is normally no bird6.ctl:
	// the attempt fails at once).
	v6snap := snap.V6
	ctx6, cancel6 := context.WithCancel(ctx)
	defer cancel6()
	done6 := make(chan struct{})
	go func() {
		defer close(done6)
		defer func() {
			// A panic in this goroutine would end the process: nothing above it can recover it.
			if v := recover(); v != nil {
				v6snap = DaemonSnapshot{Family: IPv6, Socket: c.V6Socket}
				setAll(&v6snap, need, newPanicError("collect", v))
			}
		}()
		v6 := c.newSession(IPv6)
		defer v6.close()
		c.collectFamily(ctx6, v6, need, &v6snap)
	}()

	v4 := c.newSession(IPv4)
	defer v4.close()
	if c.V4Socket != "" {
		// The greeting tells whether this daemon is BIRD 2 and serves both families.
		v4.dial(ctx)
		if v4.conn != nil && v4.conn.Major >= 2 {
			cancel6()
			<-done6
			c.collectBoth(ctx, v4, need, &snap)
			return snap
		}
	}
	c.collectFamily(ctx, v4, need, &snap.V4)
	<-done6
	snap.V6 = v6snap
	return snap
}

// collectFamily fills d from a daemon serving d.Family (BIRD 1.6's bird.ctl or bird6.ctl). Should that
// daemon be a BIRD 2 after all, only d.Family's part of its replies is kept.
func (c *Collector) collectFamily(ctx context.Context, s *session, need Need, d *DaemonSnapshot) {
	if s.path == "" {
		setAll(d, need, ErrNoSocket)
		return
	}
	r := c.read(ctx, s, need, d.Family)
	d.Socket = s.path
	d.DialectNote = r.dialectNote
	d.Restricted = r.restricted
	d.Status, d.StatusErr = r.status, r.statusErr
	d.Protocols, d.ProtocolsErr = r.protocols, r.protocolsErr
	d.Routes, d.RoutesErr = r.routes, r.routesErr
	if r.routeSel != nil {
		d.Routes, d.RouteTotals = r.routeSel.Family(d.Family)
	}
	d.Warnings = r.warnings
	d.CollectedAt = time.Now()
	if r.major >= 2 {
		split(r, need, d, nil)
	}
	d.sanitize()
}

// collectBoth fills both families from one BIRD 2 daemon.
func (c *Collector) collectBoth(ctx context.Context, s *session, need Need, snap *Snapshot) {
	r := c.read(ctx, s, need, 0)
	now := time.Now()
	for _, d := range []*DaemonSnapshot{&snap.V4, &snap.V6} {
		d.Socket = s.path
		d.DialectNote = r.dialectNote
		d.Restricted = r.restricted
		d.CollectedAt = now
		if r.status != nil {
			st := *r.status
			d.Status = &st
		}
		d.StatusErr = r.statusErr
		d.ProtocolsErr = r.protocolsErr
		d.RoutesErr = r.routesErr
		// One reply, two views: a warning about it concerns both.
		d.Warnings = append([]Warning(nil), r.warnings...)
	}
	split(r, need, &snap.V4, &snap.V6)
	snap.V4.sanitize()
	snap.V6.sanitize()
}

// split distributes a BIRD 2 reply by family: BGP sessions by their neighbor's family (by their channels
// when no neighbor was read), other protocols to both, routes by prefix. v6 may be nil (only v4.Family
// wanted).
func split(r *readResult, need Need, a, b *DaemonSnapshot) {
	targets := []*DaemonSnapshot{a}
	if b != nil {
		targets = append(targets, b)
	}
	for _, d := range targets {
		if need.Protocols && r.protocolsErr == nil {
			d.Protocols = make([]Protocol, 0, len(r.protocols))
			for _, p := range r.protocols {
				if protocolFamily(p, d.Family) {
					d.Protocols = append(d.Protocols, p)
				}
			}
		}
		if need.Routes && r.routesErr == nil {
			if r.routeSel != nil {
				d.Routes, d.RouteTotals = r.routeSel.Family(d.Family)
			} else {
				d.Routes = familyRoutes(r.routes, d.Family)
			}
		}
	}
}

// familyRoutes returns the routes of family f. BIRD 2 prints master4 before master6, so each family is
// usually one run of the reply: then it is a view of it (capacity clipped), not a copy of 100k routes.
func familyRoutes(rs []Route, f Family) []Route {
	first, last, n := -1, -1, 0
	for i := range rs {
		if routeFamily(&rs[i]) == f {
			if first < 0 {
				first = i
			}
			last = i
			n++
		}
	}
	if n == 0 {
		return []Route{}
	}
	if last-first+1 == n {
		return rs[first : last+1 : last+1]
	}
	out := make([]Route, 0, n)
	for i := range rs {
		if routeFamily(&rs[i]) == f {
			out = append(out, rs[i])
		}
	}
	return out
}

func protocolFamily(p Protocol, f Family) bool {
	if p.BGP == nil {
		return true
	}
	if a := p.BGP.Neighbor; a.IsValid() {
		return (a.Is4() || a.Is4In6()) == (f == IPv4)
	}
	if len(p.BGP.Channels) == 0 {
		return true
	}
	for _, ch := range p.BGP.Channels {
		if ch == f {
			return true
		}
	}
	return false
}

func routeFamily(r *Route) Family {
	if r.Prefix.Addr().Is4() {
		return IPv4
	}
	return IPv6
}

func setAll(d *DaemonSnapshot, need Need, err error) {
	if need.Status {
		d.StatusErr = err
	}
	if need.Protocols {
		d.ProtocolsErr = err
	}
	if need.Routes {
		d.RoutesErr = err
	}
	d.CollectedAt = time.Now()
}

// readResult is what one daemon answered.
type readResult struct {
	major        int
	restricted   bool
	dialectNote  string
	status       *Status
	statusErr    error
	protocols    []Protocol
	protocolsErr error
	routes       []Route
	routeSel     *RouteSelection // set instead of routes when selecting
	routesErr    error
	warnings     []Warning
}

// read runs the needed commands on one daemon. family is the daemon's family for BIRD 1.6 (0 for a BIRD 2
// read for both). Each section recovers its own parser's panic (see recover.go).
func (c *Collector) read(ctx context.Context, s *session, need Need, family Family) *readResult {
	r := &readResult{}
	if need.Status {
		c.readStatus(ctx, s, r)
	}
	if need.Protocols {
		c.readProtocols(ctx, s, r, family)
	}
	if need.Routes {
		c.readRoutes(ctx, s, r, family)
	}
	if s.conn != nil {
		r.major = s.conn.Major
	}
	r.dialectNote = s.dialectNote
	r.restricted = s.restricted
	return r
}

func (c *Collector) readStatus(ctx context.Context, s *session, r *readResult) {
	var p *statusParser
	defer func() {
		if v := recover(); v != nil {
			r.status, r.statusErr = nil, newPanicError(CmdStatus, v)
		}
		if p != nil {
			r.warnings = append(r.warnings, p.warnings...)
		}
	}()
	p = &statusParser{cmd: CmdStatus}
	err := s.run(ctx, CmdStatus, s.c.MaxReplyBytes, func(*Conn) LineFunc { return p.line })
	if err == nil {
		err = p.check()
	}
	if err == nil {
		st := p.st
		if st.Major == 0 && s.conn != nil {
			// The version cannot be read: report the dialect the replies were read in.
			st.Major = s.conn.Major
		}
		r.status = &st
	}
	r.statusErr = err
}

func (c *Collector) readProtocols(ctx context.Context, s *session, r *readResult, family Family) {
	var p *protocolsParser
	defer func() {
		if v := recover(); v != nil {
			r.protocols, r.protocolsErr = nil, newPanicError(CmdProtocols, v)
		}
		if p != nil {
			r.warnings = append(r.warnings, p.warnings...)
		}
	}()
	err := s.run(ctx, CmdProtocols, s.c.MaxReplyBytes, func(conn *Conn) LineFunc {
		p = newProtocolsParser(CmdProtocols, conn.Major, family)
		return p.line
	})
	if err == nil {
		r.protocols = p.result()
	}
	r.protocolsErr = err
}

func (c *Collector) readRoutes(ctx context.Context, s *session, r *readResult, family Family) {
	cmd := c.RoutesCommand
	if cmd == "" {
		cmd = CmdRoutes
	}
	var p *routesParser
	defer func() {
		if v := recover(); v != nil {
			r.routes, r.routeSel, r.routesErr = nil, nil, newPanicError(cmd, v)
		}
		if p != nil {
			r.warnings = append(r.warnings, p.warnings...)
		}
	}()
	if c.MaxRoutes > 0 {
		max := c.MaxRouteReplyBytes
		if max <= 0 {
			max = DefaultMaxRouteReplyBytes
		}
		var sel *RouteSelection
		err := s.run(ctx, cmd, max, func(conn *Conn) LineFunc {
			sel = NewRouteSelection(c.MaxRoutes, conn.Major >= 2)
			p = newSelectingParser(cmd, conn.Major, sel)
			return p.line
		})
		if err == nil {
			p.result()
			r.routeSel = sel
		}
		r.routesErr = err
		return
	}
	hint := &c.routeHint[0]
	if family == IPv6 {
		hint = &c.routeHint[1]
	}
	err := s.run(ctx, cmd, s.c.MaxReplyBytes, func(conn *Conn) LineFunc {
		// A little headroom over last time's count: the table rarely shrinks or grows much between
		// collections, and one allocation of the right size beats doubling through 100k routes.
		h := hint.Load()
		p = newRoutesParser(cmd, conn.Major, int(h+h/16))
		return p.line
	})
	if err == nil {
		r.routes = p.result()
		hint.Store(int64(len(r.routes)))
	}
	r.routesErr = err
}

// session is the connection to one daemon during one collection.
type session struct {
	c      *Collector
	family Family // IPv4: the daemon on V4Socket (both families if it is BIRD 2); IPv6: on V6Socket
	// paths are the sockets to try, in order: the configured one, then its fallbacks.
	paths []string
	// path is the socket connected to; before that (or when none accepted), the configured one.
	path    string
	conn    *Conn
	dialErr error
	dialed  bool
	// dialectNote says how the reply dialect was decided when the greeting's version could not be read.
	dialectNote string
	// restricted: the daemon accepted "restrict" on this connection.
	restricted bool
}

func (c *Collector) newSession(f Family) *session {
	s := &session{c: c, family: f, path: c.V4Socket}
	fallbacks := c.V4Fallbacks
	if f == IPv6 {
		s.path, fallbacks = c.V6Socket, c.V6Fallbacks
	}
	if s.path != "" {
		s.paths = append([]string{s.path}, fallbacks...)
	}
	return s
}

// dial connects to the first of the session's sockets that accepts a connection, and decides the reply
// dialect when the daemon's greeting does not name a version that can be read.
func (s *session) dial(ctx context.Context) {
	s.dialed = true
	s.conn, s.dialErr, s.dialectNote, s.restricted = nil, nil, "", false
	if len(s.paths) == 0 {
		s.dialErr = ErrNoSocket
		return
	}
	var first error
	var also []string
	for i, p := range s.paths {
		conn, err := Dial(ctx, p, s.c.MaxReplyBytes)
		if err == nil {
			s.conn, s.path = conn, p
			break
		}
		if i == 0 {
			first = err
		} else {
			also = append(also, err.Error())
		}
		if !connectFailed(err) || ctx.Err() != nil {
			break
		}
	}
	if s.conn == nil {
		s.path = s.paths[0]
		s.dialErr = first
		if len(also) > 0 {
			s.dialErr = fmt.Errorf("%w (also tried: %s)", first, strings.Join(also, "; "))
		}
		return
	}
	if s.c.Restrict {
		ok, err := s.conn.Restrict(ctx)
		if err != nil {
			s.conn, s.dialErr = nil, err
			return
		}
		s.restricted = ok
	}
	if s.conn.Major == 0 {
		s.decideDialect(ctx)
	}
}

// connectFailed reports whether a Dial error means nothing accepted the connection (no socket file, or
// nobody listening on it), rather than a daemon that accepted and then failed to greet.
func connectFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// decideDialect chooses the reply dialect of a daemon whose version cannot be read, so collection goes on
// whatever the version string says, and records why in dialectNote (the status reports it):
//
//   - the daemon on the IPv6 socket is BIRD 1.x: only BIRD 1.x runs a second daemon, bird6, for IPv6;
//   - else what the daemon prints: `show protocols` heads its reply with "name proto table ..." in BIRD
//     1.x and "Name Proto Table ..." in BIRD 2.x and 3.x;
//   - else the socket layout: a bird6.ctl beside this socket, or at the configured IPv6 socket, means
//     BIRD 1.x's two daemons;
//   - else BIRD 2.x, the dialect of every current release.
func (s *session) decideDialect(ctx context.Context) {
	major, why := 0, ""
	switch {
	case s.family == IPv6:
		major, why = 1, "it answers on the IPv6 socket, which only BIRD 1.x's bird6 serves"
	default:
		m, ok := s.probeHeading(ctx)
		if s.conn == nil {
			return // the probe broke the connection: the session reports that error
		}
		if ok {
			major, why = m, fmt.Sprintf("its %q reply has BIRD %d.x's heading", cmdProbe, m)
		} else if p, beside := s.c.v6SocketBeside(s.path); beside {
			major, why = 1, fmt.Sprintf("an IPv6 socket %s exists beside it, as with BIRD 1.x's two daemons", p)
		} else {
			major, why = 2, "nothing says otherwise (no IPv6 socket beside it)"
		}
	}
	s.conn.Major = major
	s.dialectNote = fmt.Sprintf("BIRD version %q (socket %s) not recognised: replies read as BIRD %d.x's, because %s",
		s.conn.Version, s.path, major, why)
}

// cmdProbe is the command whose reply heading tells BIRD 1.x from 2.x: short (one line per protocol)
// and read-only.
const cmdProbe = "show protocols"

// probeHeading sends cmdProbe and reads the dialect from its heading line. A transport error leaves the
// session without a connection and its error in dialErr.
func (s *session) probeHeading(ctx context.Context) (major int, ok bool) {
	err := s.conn.Run(ctx, cmdProbe, func(code int, text []byte, _ int) {
		if code != codeProtoHeading || ok {
			return
		}
		switch f, _ := nextField(text); string(f) {
		case "name":
			major, ok = 1, true
		case "Name":
			major, ok = 2, true
		}
	})
	if err != nil && s.conn.Broken() != nil {
		_ = s.conn.Close()
		s.conn, s.dialErr = nil, fmt.Errorf("bird: decide the reply dialect of %s: %w", s.path, err)
		return 0, false
	}
	return major, ok
}

// v6SocketBeside returns an IPv6 control socket that exists: bird6.ctl in the directory of path, or
// one of the configured IPv6 sockets.
func (c *Collector) v6SocketBeside(path string) (string, bool) {
	cands := []string{filepath.Join(filepath.Dir(path), "bird6.ctl")}
	if c.V6Socket != "" {
		cands = append(cands, c.V6Socket)
		cands = append(cands, c.V6Fallbacks...)
	}
	for _, p := range cands {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return p, true
		}
	}
	return "", false
}

// run sends cmd on the session's connection, its reply capped at maxReply bytes (DefaultMaxReplyBytes
// when 0). It dials when it has not yet, and again when the last connection broke (a daemon restarted
// between two commands); a dial that failed is not retried within the collection, so a dead or impostor
// daemon costs one attempt, not one per command.
// parser is called with the connection to choose the parser for its daemon's version. Should the parser
// panic on a line, the rest of the reply is read and ignored (the connection stays in step for the next
// command) and run returns a *PanicError.
func (s *session) run(ctx context.Context, cmd string, maxReply int64, parser func(*Conn) LineFunc) error {
	if s.conn == nil && s.dialed {
		return fmt.Errorf("%s: %w", cmd, s.dialErr)
	}
	if s.conn == nil || s.conn.Broken() != nil {
		if s.conn != nil {
			_ = s.conn.Close()
		}
		s.dial(ctx)
		if s.conn == nil {
			return fmt.Errorf("%s: %w", cmd, s.dialErr)
		}
	}
	if maxReply <= 0 {
		maxReply = DefaultMaxReplyBytes
	}
	s.conn.lr.max = maxReply // per command: a streamed routes reply may be larger than the others
	fn := parser(s.conn)
	if testHookLineFunc != nil {
		fn = testHookLineFunc(cmd, fn)
	}
	var perr *PanicError
	err := s.conn.Run(ctx, cmd, func(code int, text []byte, lineNo int) {
		if perr != nil {
			return
		}
		defer func() {
			if v := recover(); v != nil {
				perr = newPanicError(cmd, v)
			}
		}()
		fn(code, text, lineNo)
	})
	if perr != nil {
		return perr
	}
	return err
}

// testHookLineFunc, set by tests only, wraps each command's parser (to make one panic).
var testHookLineFunc func(cmd string, fn LineFunc) LineFunc

func (s *session) close() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
}
