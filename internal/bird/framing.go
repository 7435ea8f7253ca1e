package bird

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxLineBytes bounds one reply line (BIRD's own CLI lines are well under 1 KiB). It is the size of the
// read buffer, so a line never costs more memory than this whatever the peer sends.
const maxLineBytes = 64 << 10

// DefaultMaxReplyBytes is the reply size cap when none is configured. A 100k-route table is about 9 MiB
// of `show route` and 25 MiB of `show route all` (BIRD 2). The cap also bounds what a hostile or runaway
// reply can cost: a Route takes 128 bytes for a line of at least ~45, and the parser may hold them twice
// while joining its chunks, so parsing allocates at most about 6× the cap.
const DefaultMaxReplyBytes = 64 << 20

// LineFunc receives each line of a reply: its code (continuation lines carry the code of the line they
// continue), its text without code, separator and newline, and the line number within the reply (from 1).
// text aliases the read buffer and is only valid during the call: copy what you keep.
type LineFunc func(code int, text []byte, lineNo int)

// lineReader splits BIRD's reply stream into lines without copying them. BIRD frames a reply as lines
// "DDDD-text" (more follows), " text" (continuation of the previous code) and "DDDD text" (the last line).
type lineReader struct {
	br *bufio.Reader
	// max is the cap on one reply's size; n counts the bytes of the current reply.
	max, n int64
}

func newLineReader(r io.Reader, max int64) *lineReader {
	if max <= 0 {
		max = DefaultMaxReplyBytes
	}
	return &lineReader{br: bufio.NewReaderSize(r, maxLineBytes), max: max}
}

// readReply reads one complete reply and hands each line to fn. A reply containing an 8xxx/9xxx code
// returns a *ReplyError once its final line is read (fn does not see the error lines). A reply that ends
// without its final line, exceeds the cap, or breaks the framing returns an error wrapping ErrTruncated,
// ErrReplyTooLarge or ErrProtocol; the stream is then out of step and the connection must be dropped.
func (lr *lineReader) readReply(cmd string, fn LineFunc) error {
	lr.n = 0
	code := 0 // code of the last numbered line; 0 before the first one
	var replyErr *ReplyError
	for lineNo := 1; ; lineNo++ {
		line, err := lr.br.ReadSlice('\n')
		lr.n += int64(len(line))
		if lr.n > lr.max {
			return fmt.Errorf("bird %q: line %d: %w (%d bytes)", cmd, lineNo, ErrReplyTooLarge, lr.max)
		}
		if err != nil {
			switch {
			case errors.Is(err, bufio.ErrBufferFull):
				return fmt.Errorf("bird %q: line %d longer than %d bytes: %w", cmd, lineNo, maxLineBytes, ErrProtocol)
			case errors.Is(err, io.EOF):
				return fmt.Errorf("bird %q: line %d: %w", cmd, lineNo, ErrTruncated)
			}
			return fmt.Errorf("bird %q: read line %d: %w", cmd, lineNo, err)
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		final := false
		var text []byte
		switch {
		case len(line) > 0 && line[0] == ' ':
			if code == 0 {
				return fmt.Errorf("bird %q: line %d: continuation before any numbered line: %w", cmd, lineNo, ErrProtocol)
			}
			text = line[1:]
		case len(line) >= 4 && isDigit(line[0]) && isDigit(line[1]) && isDigit(line[2]) && isDigit(line[3]) &&
			(len(line) == 4 || line[4] == ' ' || line[4] == '-'):
			code = int(line[0]-'0')*1000 + int(line[1]-'0')*100 + int(line[2]-'0')*10 + int(line[3]-'0')
			// "DDDD" alone has no separator; BIRD never sends it, but it can only be read as a last line.
			final = len(line) == 4 || line[4] == ' '
			if len(line) > 5 {
				text = line[5:]
			}
		default:
			return fmt.Errorf("bird %q: line %d %q: %w", cmd, lineNo, truncateForError(line), ErrProtocol)
		}
		if code >= 8000 {
			if replyErr == nil {
				replyErr = &ReplyError{Command: cmd, Code: code, Text: cleanBytes(text)}
			} else if len(replyErr.Text) < 1024 {
				replyErr.Text += " " + cleanBytes(text)
			}
		} else if replyErr == nil {
			fn(code, text, lineNo)
		}
		if final {
			if replyErr != nil {
				return replyErr
			}
			return nil
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func truncateForError(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
