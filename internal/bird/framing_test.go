package bird

import (
	"errors"
	"strings"
	"testing"
)

func TestFraming(t *testing.T) {
	type line struct {
		code int
		text string
	}
	long := strings.Repeat("x", maxLineBytes+10)
	tests := []struct {
		name    string
		in      string
		max     int64
		want    []line
		wantErr error
		code    int // for *ReplyError
	}{
		{name: "empty final", in: "0000 \n", want: []line{{0, ""}}},
		{name: "no separator final", in: "0000\n", want: []line{{0, ""}}},
		{name: "continuations carry the code", in: "1000-BIRD 1.6.8\n1011-Router ID is 1.2.3.4\n Last reboot on x\n0013 Daemon is up and running\n",
			want: []line{{1000, "BIRD 1.6.8"}, {1011, "Router ID is 1.2.3.4"}, {1011, "Last reboot on x"}, {13, "Daemon is up and running"}}},
		{name: "tab after continuation space", in: "1007-10.0.0.0/8 unicast [x 1] *\n \tvia 1.2.3.4 on eth0\n0000 \n",
			want: []line{{1007, "10.0.0.0/8 unicast [x 1] *"}, {1007, "\tvia 1.2.3.4 on eth0"}, {0, ""}}},
		{name: "CRLF", in: "0013 Daemon is up and running\r\n", want: []line{{13, "Daemon is up and running"}}},
		{name: "syntax error", in: "9001 syntax error, unexpected CF_SYM_UNDEFINED\n", wantErr: &ReplyError{}, code: 9001},
		{name: "runtime error after data", in: "1007-10.0.0.0/8 blackhole [s 1] *\n8001 Route not found\n",
			want: []line{{1007, "10.0.0.0/8 blackhole [s 1] *"}}, wantErr: &ReplyError{}, code: 8001},
		{name: "error with more lines", in: "8002-Protocol is down\n more\n0000 \n", wantErr: &ReplyError{}, code: 8002},
		{name: "cut off after data", in: "1007-10.0.0.0/8 blackhole [s 1] *\n 10.1.0.0/16 blackhole [s 1] *\n",
			want: []line{{1007, "10.0.0.0/8 blackhole [s 1] *"}, {1007, "10.1.0.0/16 blackhole [s 1] *"}}, wantErr: ErrTruncated},
		{name: "cut off mid-line", in: "1007-10.0.0.0/8 black", wantErr: ErrTruncated},
		{name: "nothing", in: "", wantErr: ErrTruncated},
		{name: "cut off after more-follows", in: "0002-Reading\n", want: []line{{2, "Reading"}}, wantErr: ErrTruncated},
		{name: "garbage", in: "hello\n", wantErr: ErrProtocol},
		{name: "three digits", in: "123 x\n", wantErr: ErrProtocol},
		{name: "continuation first", in: " orphan\n0000 \n", wantErr: ErrProtocol},
		{name: "bad separator", in: "0000x\n", wantErr: ErrProtocol},
		{name: "line too long", in: "1007-" + long + "\n0000 \n", wantErr: ErrProtocol},
		{name: "over the cap", in: "1007-0123456789\n 0123456789\n0000 \n", max: 20, want: []line{{1007, "0123456789"}},
			wantErr: ErrReplyTooLarge},
		{name: "exactly the cap", in: "1007-0123456789\n0000 \n", max: 22, want: []line{{1007, "0123456789"}, {0, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []line
			lr := newLineReader(strings.NewReader(tt.in), tt.max)
			err := lr.readReply("show route", func(code int, text []byte, lineNo int) {
				if lineNo < 1 {
					t.Errorf("line number %d", lineNo)
				}
				got = append(got, line{code, string(text)})
			})
			switch want := tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("error %v", err)
				}
			case *ReplyError:
				var re *ReplyError
				if !errors.As(err, &re) || re.Code != tt.code || re.Command != "show route" {
					t.Fatalf("error %v, want a *ReplyError with code %d", err, tt.code)
				}
			default:
				if !errors.Is(err, want) {
					t.Fatalf("error %v, want %v", err, want)
				}
				if !strings.Contains(err.Error(), "show route") || !strings.Contains(err.Error(), "line ") {
					t.Errorf("error %q does not name the command and line", err)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("lines %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestFramingSequentialReplies: one stream carries several replies (BIRD's CLI is request/reply).
func TestFramingSequentialReplies(t *testing.T) {
	lr := newLineReader(strings.NewReader("0001 BIRD 2.0.12 ready.\n1000-BIRD 2.0.12\n0013 Daemon is up and running\n9001 syntax error\n0000 \n"), 0)
	var texts []string
	collect := func(code int, text []byte, _ int) { texts = append(texts, string(text)) }
	if err := lr.readReply("(greeting)", collect); err != nil {
		t.Fatal(err)
	}
	if err := lr.readReply("show status", collect); err != nil {
		t.Fatal(err)
	}
	var re *ReplyError
	if err := lr.readReply("show x", collect); !errors.As(err, &re) || re.Code != 9001 {
		t.Fatalf("third reply: %v, want syntax error", err)
	}
	if err := lr.readReply("show protocols", collect); err != nil {
		t.Fatal(err)
	}
	want := []string{"BIRD 2.0.12 ready.", "BIRD 2.0.12", "Daemon is up and running", ""}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Fatalf("texts %q, want %q", texts, want)
	}
}

func TestParseGreeting(t *testing.T) {
	tests := []struct {
		code        int
		text        string
		wantVersion string
		wantMajor   int // 0: the version cannot be read, the Collector decides the dialect
		ok          bool
	}{
		{1, "BIRD 1.6.8 ready.", "1.6.8", 1, true},
		{1, "BIRD 2.0.12 ready.", "2.0.12", 2, true},
		{1, "BIRD v2.15.1 ready.", "v2.15.1", 2, true},
		{1, "BIRD 2.17.1 ready.", "2.17.1", 2, true},
		{1, "BIRD v2.15-12-gabc ready.", "v2.15-12-gabc", 2, true},
		{1, "BIRD v2.15.1-12-gdeadbee ready.", "v2.15.1-12-gdeadbee", 2, true},
		{1, "BIRD 3.0.0 ready.", "3.0.0", 3, true},
		{1, "BIRD 3.1.0 ready.", "3.1.0", 3, true},
		// Calico's fork: its own version, then the BIRD it is built on.
		{1, "BIRD v0.3.3+birdv1.6.8 ready.", "v0.3.3+birdv1.6.8", 1, true},
		{1, "BIRD v0.3.3-211-g9111ec3c+birdv1.6.8 ready.", "v0.3.3-211-g9111ec3c+birdv1.6.8", 1, true},
		{1, "BIRD 1.6.3calico0.3.0 ready.", "1.6.3calico0.3.0", 1, true},
		// Versions that cannot be read are still BIRD greetings: accepted, major 0.
		{1, "BIRD x.y ready.", "x.y", 0, true},
		{1, "BIRD v0.3.3 ready.", "v0.3.3", 0, true},
		{1, "BIRD +bird ready.", "+bird", 0, true},
		{1, "BIRD ready.", "", 0, true},
		{1, "BIRD", "", 0, true},
		{2, "BIRD 1.6.8 ready.", "", 0, false},
		{1, "FRR 8.1 ready.", "", 0, false},
		{1, "", "", 0, false},
	}
	for _, tt := range tests {
		v, m, ok := parseGreeting(tt.code, []byte(tt.text))
		if ok != tt.ok || (ok && (v != tt.wantVersion || m != tt.wantMajor)) {
			t.Errorf("parseGreeting(%d, %q) = %q, %d, %v; want %q, %d, %v", tt.code, tt.text, v, m, ok, tt.wantVersion, tt.wantMajor, tt.ok)
		}
	}
}
