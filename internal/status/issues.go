package status

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// ErrorReason says whether err means the daemon could not be reached (bird.Unreachable) or answered
// something unusable: the reason of the issue and of the bird_errors_total metric.
func ErrorReason(err error) string {
	if bird.Unreachable(err) {
		return v3.ReasonDaemonUnreachable
	}
	return ReasonCollectionFailed
}

// notCollected says an error only means the agent was not configured to read this family (no control
// socket for it, e.g. an IPv4-only node with BIRD 1.6): nothing to report, rather than a daemon down.
func notCollected(err error) bool {
	return errors.Is(err, bird.ErrNoSocket)
}

// errorIssue turns a failed collection step into an issue. cmd names the step unless the error already
// does (the bird package's errors start with the command); note, when set, leads the message.
func errorIssue(fam v3.IPFamily, cmd, note string, err error) v3.StatusIssue {
	msg := err.Error()
	if !strings.Contains(msg, cmd) {
		msg = cmd + ": " + msg
	}
	if note != "" {
		msg = note + ": " + msg
	}
	return v3.StatusIssue{Family: fam, Reason: ErrorReason(err), Message: clampMessage(msg)}
}

// protocolsStep names the protocols step in issues ("show protocols", as BIRD's own help calls it), without
// the "all" the collector adds to get the BGP details.
var protocolsStep = strings.TrimSuffix(bird.CmdProtocols, " all")

// Sections a warning is reported in, from the command that produced it.
type warnSection int

const (
	warnAgent warnSection = 1 << iota
	warnBGP
	warnRoutes
)

func sectionOf(command string) warnSection {
	c := strings.Join(strings.Fields(strings.ToLower(command)), " ")
	switch {
	case strings.HasPrefix(c, bird.CmdStatus):
		return warnAgent
	case strings.HasPrefix(c, protocolsStep):
		return warnBGP
	case strings.HasPrefix(c, bird.CmdRoutes):
		return warnRoutes
	}
	// A command we cannot attribute: say it everywhere rather than nowhere.
	return warnAgent | warnBGP | warnRoutes
}

// warningsIssue summarises a family's skipped lines relevant to one section in one PartialParse issue:
// the count, and the first skipped line (lowest command, line number) so equal input gives an equal
// message. ok is false when there is nothing to report.
func warningsIssue(fam v3.IPFamily, ws []bird.Warning, sec warnSection) (v3.StatusIssue, bool) {
	var n int
	var first *bird.Warning
	for i := range ws {
		w := &ws[i]
		if sectionOf(w.Command)&sec == 0 {
			continue
		}
		n++
		if first == nil || cmp.Or(
			cmp.Compare(w.Command, first.Command),
			cmp.Compare(w.Line, first.Line),
			cmp.Compare(w.Text, first.Text),
			cmp.Compare(w.Err, first.Err),
		) < 0 {
			first = w
		}
	}
	if n == 0 {
		return v3.StatusIssue{}, false
	}
	lines := "lines"
	if n == 1 {
		lines = "line"
	}
	msg := fmt.Sprintf("%d unparsable %s skipped; first: %q line %d: %q", n, lines, first.Command, first.Line, ClampText(first.Text, maxQuotedLine))
	if first.Err != "" {
		msg += ": " + first.Err
	}
	return v3.StatusIssue{Family: fam, Reason: v3.ReasonPartialParse, Message: clampMessage(msg)}, true
}

// maxQuotedLine bounds the skipped line quoted in a PartialParse message, so the count and the error
// around it always fit the message limit.
const maxQuotedLine = 256

// ClampText cuts s to at most n bytes on a rune boundary, marking the cut with an ellipsis; invalid UTF-8
// is replaced, so the result is always valid text for an API object.
func ClampText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// clampShort makes s fit the CRD's bound on names, addresses, interfaces and times. BIRD's own are far
// shorter; a hostile or escaped one is cut rather than make the API server refuse the whole status.
func clampShort(s string) string {
	if len(s) <= v3.MaxShortStringLength {
		return s
	}
	return ClampText(s, v3.MaxShortStringLength)
}

// clampMessage makes s valid UTF-8 no longer than MaxIssueMessageBytes (the CRD's limit counts
// characters; bytes are a safe bound), cut on a rune boundary with an ellipsis.
func clampMessage(s string) string {
	return ClampText(s, MaxIssueMessageBytes)
}

// capIssues keeps at most MaxIssuesPerSection issues; the last one kept says how many were dropped so
// the cap never hides that something else went wrong. nil stays nil.
func capIssues(is []v3.StatusIssue) []v3.StatusIssue {
	if len(is) <= MaxIssuesPerSection {
		return is
	}
	dropped := len(is) - (MaxIssuesPerSection - 1)
	kept := slices.Clone(is[:MaxIssuesPerSection-1])
	return append(kept, v3.StatusIssue{
		Reason:  ReasonCollectionFailed,
		Message: fmt.Sprintf("%d more issues not shown", dropped),
	})
}
