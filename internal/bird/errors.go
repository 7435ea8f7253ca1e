package bird

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// ReplyError is an error reply from BIRD: a line whose code is 8xxx (run-time error, for example
// "8001 Route not found") or 9xxx (parse error, for example "9001 syntax error"). The connection stays
// usable after one: BIRD finished its reply.
type ReplyError struct {
	// Command is the command that was sent.
	Command string
	// Code is BIRD's reply code, 8000..9999.
	Code int
	// Text is the text of the error line(s).
	Text string
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("bird %q: error reply %04d: %s", e.Command, e.Code, e.Text)
}

// Runtime reports whether the error is a run-time error (8xxx) rather than a syntax error (9xxx).
func (e *ReplyError) Runtime() bool { return e.Code < 9000 }

// RefusedError is returned for a command the allowlist does not let through; nothing was sent.
type RefusedError struct {
	Command string
	Reason  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("bird: command %q refused: %s", e.Command, e.Reason)
}

var (
	// ErrReplyTooLarge is returned when a reply exceeds the configured size cap. The connection is closed:
	// the rest of the reply cannot be skipped safely.
	ErrReplyTooLarge = errors.New("reply exceeds the size cap")
	// ErrTruncated is returned when the connection ends before the reply's final line: a reply cut off is
	// never taken for a short answer.
	ErrTruncated = errors.New("reply cut off before its final line")
	// ErrProtocol is returned for a line that is not BIRD's reply framing.
	ErrProtocol = errors.New("malformed reply line")
)

// Unreachabler lets an error say itself whether it means the daemon could not be reached; Unreachable
// asks it before looking at what the error wraps.
type Unreachabler interface {
	Unreachable() bool
}

// Unreachable reports whether err means the daemon could not be reached (socket absent, refused, closed
// mid-reply, no answer within the deadline) rather than that it answered something unusable (an error
// reply, a reply too large or malformed).
func Unreachable(err error) bool {
	var u Unreachabler
	if errors.As(err, &u) {
		return u.Unreachable()
	}
	for _, target := range []error{
		ErrTruncated, // the daemon closed the socket mid-reply: it died or restarted
		io.EOF, io.ErrUnexpectedEOF, os.ErrNotExist, os.ErrPermission, os.ErrDeadlineExceeded,
		context.DeadlineExceeded, net.ErrClosed,
		syscall.ENOENT, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.EACCES,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}
