package bird

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Conn is one connection to a BIRD control socket. BIRD's CLI is request/reply, so a Conn serves several
// commands one after the other; it is not safe for concurrent use. After a transport or framing error the
// Conn is unusable (the reply stream is out of step) and every later Run fails; dial a new one.
type Conn struct {
	path string
	nc   net.Conn
	lr   *lineReader
	// Version is the daemon's version from its greeting ("0001 BIRD 1.6.8 ready."), as printed.
	Version string
	// Major is the major number of the BIRD that Version names, which decides the reply dialect (1: BIRD
	// 1.x; 2 and later: BIRD 2.x). It is 0 when Version cannot be read; the Collector then sets the
	// dialect it decided on.
	Major  int
	broken error
}

// Dial connects to the BIRD control socket at path and reads the daemon's greeting, which gives its
// version. ctx bounds the connect and the wait for the greeting (a daemon busy reconfiguring accepts but
// does not greet). maxReply caps each reply (DefaultMaxReplyBytes when 0).
func Dial(ctx context.Context, path string, maxReply int64) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("bird: connect to control socket %s: %w", path, err)
	}
	c := &Conn{path: path, nc: nc, lr: newLineReader(nc, maxReply)}
	var greeting []byte
	gcode := 0
	err = c.withContext(ctx, func() error {
		return c.lr.readReply("(greeting)", func(code int, text []byte, _ int) {
			gcode = code
			greeting = append(greeting[:0], text...)
		})
	})
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("bird: read greeting from %s: %w", path, err)
	}
	ver, major, ok := parseGreeting(gcode, greeting)
	if !ok {
		_ = nc.Close()
		return nil, fmt.Errorf("bird: unexpected greeting from %s: %04d %q: %w", path, gcode, greeting, ErrProtocol)
	}
	c.Version, c.Major = ver, major
	return c, nil
}

// CmdRestrict is BIRD's "restrict" command (BIRD 1.6, Calico's fork, 2.x, 3.x): it limits the session to
// commands that neither change nor disclose the configuration; from then on BIRD itself refuses
// "configure", "disable", "enable", "restart", "reload", "debug", "dump", "eval" with 8007 Access denied.
// It is not in the allowlist (it is not a query); Restrict sends it.
const CmdRestrict = "restrict"

// codeRestricted is BIRD's reply to "restrict" ("0016 Access restricted").
const codeRestricted = 16

// Restrict asks BIRD to restrict this session (see CmdRestrict): defence in depth, so that even an agent
// that misbehaves cannot reconfigure or disable anything through the socket. It reports whether the daemon
// restricted the session; a daemon that does not know the command (an error reply) leaves it unrestricted
// and the connection usable. Any other error makes the connection unusable, as for Run.
func (c *Conn) Restrict(ctx context.Context) (bool, error) {
	if c.broken != nil {
		return false, fmt.Errorf("bird %q on %s: connection unusable: %w", CmdRestrict, c.path, c.broken)
	}
	restricted := false
	err := c.withContext(ctx, func() error {
		if _, err := c.nc.Write([]byte(CmdRestrict + "\n")); err != nil {
			return fmt.Errorf("bird %q: send: %w", CmdRestrict, err)
		}
		return c.lr.readReply(CmdRestrict, func(code int, _ []byte, _ int) {
			restricted = restricted || code == codeRestricted
		})
	})
	var re *ReplyError
	switch {
	case err == nil:
		return restricted, nil
	case errors.As(err, &re):
		return false, nil
	default:
		c.broken = err
		_ = c.nc.Close()
		return false, fmt.Errorf("%w (socket %s)", err, c.path)
	}
}

// parseGreeting reads "BIRD 1.6.8 ready." (code 0001) into the version and its major number. The
// greeting is accepted whatever the version says (ok is false only for something that is not a BIRD
// greeting at all); major is 0 when the version cannot be read, and the caller decides the dialect.
func parseGreeting(code int, text []byte) (version string, major int, ok bool) {
	if code != 1 {
		return "", 0, false
	}
	f := bytes.Fields(text)
	if len(f) < 1 || string(f[0]) != "BIRD" {
		return "", 0, false
	}
	// "BIRD ready." has no version; anything else in second place is the version as the build names it.
	if len(f) >= 2 && !(len(f) == 2 && string(f[1]) == "ready.") {
		version = string(f[1])
	}
	major, _ = majorOf(version)
	return version, major, true
}

// majorOf returns the major number of the BIRD a version string names: "1.6.8", "2.0.12", "v2.15.1",
// "3.1.0", "v2.15-12-gabc" (a git build), and Calico's fork "v0.3.3+birdv1.6.8", whose own version
// comes first and the BIRD it is built on after "+bird". ok is false when no major can be read: the
// caller decides the reply dialect another way (the Collector does, and says so).
func majorOf(version string) (int, bool) {
	v := version
	if i := lastIndexFold(v, "+bird"); i >= 0 {
		v = v[i+len("+bird"):]
	}
	if len(v) > 0 && (v[0] == 'v' || v[0] == 'V') {
		v = v[1:]
	}
	end := 0
	for end < len(v) && isDigit(v[end]) {
		end++
	}
	if end == 0 || end > 3 {
		return 0, false
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

// lastIndexFold is strings.LastIndex ignoring ASCII case, byte for byte (strings.ToLower would change
// the length of invalid UTF-8, and the index with it).
func lastIndexFold(s, sub string) int {
	lower := func(c byte) byte {
		if 'A' <= c && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
next:
	for i := len(s) - len(sub); i >= 0; i-- {
		for j := 0; j < len(sub); j++ {
			if lower(s[i+j]) != lower(sub[j]) {
				continue next
			}
		}
		return i
	}
	return -1
}

// Path is the control socket path.
func (c *Conn) Path() string { return c.path }

// Close closes the connection.
func (c *Conn) Close() error {
	if c.broken == nil {
		c.broken = errors.New("connection closed")
	}
	return c.nc.Close()
}

// Broken returns the error that made the connection unusable, or nil.
func (c *Conn) Broken() error { return c.broken }

// Run sends one command and streams its reply's lines to fn. The command must pass CheckCommand; a refused
// command is not sent. An error reply (8xxx/9xxx) returns a *ReplyError and leaves the connection usable;
// any other error (deadline, cancellation, cut-off reply, size cap) closes it.
func (c *Conn) Run(ctx context.Context, cmd string, fn LineFunc) error {
	canon, err := CheckCommand(cmd)
	if err != nil {
		return err
	}
	if c.broken != nil {
		return fmt.Errorf("bird %q on %s: connection unusable: %w", canon, c.path, c.broken)
	}
	err = c.withContext(ctx, func() error {
		if _, err := c.nc.Write([]byte(canon + "\n")); err != nil {
			return fmt.Errorf("bird %q: send: %w", canon, err)
		}
		return c.lr.readReply(canon, fn)
	})
	var re *ReplyError
	if err != nil && !errors.As(err, &re) {
		c.broken = err
		_ = c.nc.Close()
	}
	if err != nil {
		return fmt.Errorf("%w (socket %s)", err, c.path)
	}
	return nil
}

// withContext runs f with the connection's deadline set from ctx, and makes a cancellation of ctx
// interrupt a blocked read or write. When ctx ended, its error is what is returned, with the I/O error
// for detail.
func (c *Conn) withContext(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dl, _ := ctx.Deadline() // zero time: no deadline
	if err := c.nc.SetDeadline(dl); err != nil {
		return fmt.Errorf("bird: set deadline on %s: %w", c.path, err)
	}
	stop := context.AfterFunc(ctx, func() {
		// A deadline in the past wakes up any blocked I/O at once.
		_ = c.nc.SetDeadline(time.Unix(1, 0))
	})
	err := f()
	stop()
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: %v", cerr, err)
		}
		// The socket deadline is ctx's deadline and may fire a moment before ctx's own timer does.
		if errors.Is(err, os.ErrDeadlineExceeded) && !dl.IsZero() && !time.Now().Before(dl) {
			return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
		}
	}
	return err
}
