package printer_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

// hostileObject is a status written by anyone with the RBAC to write it: every kind of string holds ESC
// sequences, BEL, a bidi override, a newline and a byte that is not UTF-8.
func hostileObject(t *testing.T) v3.CalicoNodeStatus {
	o := load(t, "fresh-contract.yaml")
	const evil = "\x1b]0;owned\x07\x1b[2J\u202eX\n\xff"
	o.Status.Agent.BIRDV4.Version = "1.6.8" + evil
	o.Status.Agent.BIRDV4.LastBootTime = evil
	o.Status.BGP.PeersV4[0].Protocol = "Mesh" + evil
	o.Status.BGP.PeersV4[0].Info = "Socket: " + evil
	o.Status.BGP.PeersV4[0].Since = evil
	o.Status.BGP.PeersV4[0].Zone = evil
	o.Status.Routes.RoutesV4[0].Interface = "eth0" + evil
	o.Status.Routes.RoutesV4[0].LearnedFrom.PeerIP = evil
	o.Status.Routes.Issues = append(o.Status.Routes.Issues, v3.StatusIssue{Reason: "X" + evil, Message: evil})
	for i := range o.Status.Conditions {
		o.Status.Conditions[i].Message = evil
		o.Status.Conditions[i].Reason = evil
	}
	o.Status.Conditions = append(o.Status.Conditions, metav1.Condition{Type: "Ready", Status: "False", Reason: evil, Message: evil})
	return o
}

// rawControls returns the control characters, bidi controls and invalid bytes of out, newlines aside.
func rawControls(out string) []string {
	var bad []string
	for i, r := range out {
		if (r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD")) || (r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r))) {
			bad = append(bad, string(r))
		}
	}
	return bad
}

// TestTextEscapesHostileStatus: the table view shows hostile strings escaped, never raw: nothing in
// the output can move the cursor, ring, retitle the terminal, reverse text or start a fake line.
func TestTextEscapesHostileStatus(t *testing.T) {
	o := hostileObject(t)
	var buf bytes.Buffer
	if err := printer.Text(&buf, []v3.CalicoNodeStatus{o}, at("2021-10-18T13:22:10Z"), nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if bad := rawControls(out); len(bad) > 0 {
		t.Fatalf("raw control characters in the view: %q\n%s", bad, out)
	}
	for _, want := range []string{`1.6.8\x1b]0;owned\x07\x1b[2J\u202eX\n\xff`, `Socket: \x1b]0;owned`, `eth0\x1b]0;owned`} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	// Each peer and route is still one line: the hostile newline did not start another.
	if n := strings.Count(out, "\n"); n != strings.Count(mustText(t, load(t, "fresh-contract.yaml")), "\n")+1 {
		t.Errorf("%d lines: a hostile newline split a line (one more line is the added issue)\n%s", n, out)
	}
}

func mustText(t *testing.T, o v3.CalicoNodeStatus) string {
	var buf bytes.Buffer
	if err := printer.Text(&buf, []v3.CalicoNodeStatus{o}, at("2021-10-18T13:22:10Z"), nil); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestObjectsEscapeHostileStatus: -o yaml and -o json quote control characters too.
func TestObjectsEscapeHostileStatus(t *testing.T) {
	o := hostileObject(t)
	o.Status.Agent.BIRDV4.Version = strings.ToValidUTF8(o.Status.Agent.BIRDV4.Version, "\uFFFD") // what the API server returns
	o.Status.BGP.PeersV4[1].Info = "DEL\x7f NEL\u0085 CSI\u009b"
	for _, f := range []printer.Format{printer.FormatYAML, printer.FormatJSON} {
		var buf bytes.Buffer
		if err := printer.Objects(&buf, []v3.CalicoNodeStatus{o}, true, f); err != nil {
			t.Fatal(err)
		}
		if bad := rawControls(buf.String()); len(bad) > 0 {
			t.Errorf("-o %s: raw control characters %q", f, bad)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"Mesh_10_0_0_2":       "Mesh_10_0_0_2",
		"日本 é \uFFFD":         "日本 é \uFFFD",
		"a\x1b[31mb\x07":      `a\x1b[31mb\x07`,
		"t\tn\nr\r":           `t\tn\nr\r`,
		"c1\u0085 bidi\u202e": `c1\u0085 bidi\u202e`,
		"bad\xff":             `bad\xff`,
	} {
		if got := printer.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := printer.EscapeText("line1\nline2\x1b"); got != "line1\nline2\\x1b" {
		t.Errorf("EscapeText kept %q", got)
	}
}

// TestTextShowsCountsOnly: a status the agent had to write without its lists says so in the view.
func TestTextShowsCountsOnly(t *testing.T) {
	o := load(t, "fresh-contract.yaml")
	o.Status.Conditions = append(o.Status.Conditions, metav1.Condition{Type: v3.ConditionCountsOnly, Status: metav1.ConditionTrue,
		Reason: v3.ReasonStatusRefused, Message: "lists omitted, counts kept: the API server refused the full status (etcdserver: request is too large)"})
	if out := mustText(t, o); !strings.Contains(out, "counts only: lists omitted, counts kept: the API server refused the full status") {
		t.Fatalf("view does not say the lists were omitted:\n%s", out)
	}
}
