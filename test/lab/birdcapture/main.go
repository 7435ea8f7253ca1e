// Command birdcapture saves one raw reply of a BIRD control socket, byte for byte, for test fixtures.
//
//	birdcapture -socket /run/cnslab/node1/bird.ctl -greeting greeting.txt -out reply.txt 'show protocols all'
//
// It reads the greeting line (saved with -greeting), sends the command and a newline, and copies the reply
// until its final line ("DDDD " then text: four digits and a space), all within -timeout. It is not the
// project's BIRD client on purpose: the fixtures must not depend on the code they test.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	socket := flag.String("socket", "", "BIRD control socket")
	out := flag.String("out", "-", "file for the raw reply (- = stdout)")
	greeting := flag.String("greeting", "", "file for the raw greeting line (empty = discard)")
	timeout := flag.Duration("timeout", 30*time.Second, "deadline for the whole exchange")
	flag.Parse()
	if *socket == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: birdcapture -socket PATH [-out FILE] [-greeting FILE] [-timeout D] 'show ...'")
		os.Exit(2)
	}
	if err := run(*socket, flag.Arg(0), *out, *greeting, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "birdcapture:", err)
		os.Exit(1)
	}
}

func run(socket, command, out, greetingFile string, timeout time.Duration) error {
	conn, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return fmt.Errorf("dial %s: %w", socket, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("set deadline on %s: %w", socket, err)
	}
	r := bufio.NewReaderSize(conn, 1<<16)
	greeting, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read greeting from %s: %w", socket, err)
	}
	if greetingFile != "" {
		if err := os.WriteFile(greetingFile, greeting, 0o644); err != nil {
			return fmt.Errorf("write greeting: %w", err)
		}
	}
	if _, err := conn.Write([]byte(command + "\n")); err != nil {
		return fmt.Errorf("send %q to %s: %w", command, socket, err)
	}
	w := os.Stdout
	if out != "-" {
		if w, err = os.Create(out); err != nil {
			return fmt.Errorf("create %s: %w", out, err)
		}
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if _, werr := bw.Write(line); werr != nil {
			return fmt.Errorf("write %s: %w", out, werr)
		}
		if err != nil {
			_ = bw.Flush() // keep what arrived: a cut-off reply is worth seeing
			return fmt.Errorf("reply to %q from %s, line %d: cut off without a final line: %w", command, socket, n, err)
		}
		if isFinal(line) {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	if w != os.Stdout {
		return w.Close()
	}
	return nil
}

// isFinal reports whether line is the last line of a reply: four digits, then a space.
func isFinal(line []byte) bool {
	if len(line) < 5 || line[4] != ' ' {
		return false
	}
	for _, c := range line[:4] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
