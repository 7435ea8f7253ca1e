package bird

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

// fakeRestrict answers "restrict" with reply, and show status like BIRD 1.6.
func fakeRestrict(t *testing.T, reply string) *fakeBird {
	return startFakeBird(t, greeting1, func(cmd string, c net.Conn) bool {
		var b string
		switch cmd {
		case CmdRestrict:
			b = reply
		case CmdStatus:
			b = "1000-BIRD 1.6.8\n1011-Router ID is 10.0.0.1\n0013 Daemon is up and running\n"
		default:
			b = "9001 syntax error\n"
		}
		_, err := c.Write([]byte(b))
		return err == nil
	})
}

func TestCollectorRestrictsItsSessions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, reply    string
		restrict, want bool
	}{
		{"daemon restricts", "0016 Access restricted\n", true, true},
		{"daemon without the command", "9001 syntax error, unexpected CF_SYM_UNDEFINED\n", true, false},
		{"not asked", "0016 Access restricted\n", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeRestrict(t, tc.reply)
			c := &Collector{V4Socket: f.path, Restrict: tc.restrict}
			snap := c.Collect(ctx, Need{Status: true})
			if snap.V4.StatusErr != nil || snap.V4.Status == nil || !snap.V4.Status.Up {
				t.Fatalf("status not collected: %v", snap.V4.StatusErr)
			}
			if snap.V4.Restricted != tc.want {
				t.Errorf("Restricted = %v, want %v", snap.V4.Restricted, tc.want)
			}
			cmds, _ := f.stats()
			sentRestrict := slices.Contains(cmds, CmdRestrict)
			if sentRestrict != tc.restrict || (tc.restrict && cmds[0] != CmdRestrict) {
				t.Errorf("commands %q: restrict must be sent first exactly when asked (%v)", cmds, tc.restrict)
			}
		})
	}
}

// checkRestricted dials a real daemon's socket, restricts the session and checks that BIRD then refuses a
// command that changes its state. "configure undo" is harmless even if it went through on a daemon that
// was never reconfigured (BIRD answers "Nothing to do"), so a failing test cannot break the daemon.
func checkRestricted(t *testing.T, sock string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ok, err := c.Restrict(ctx)
	if err != nil || !ok {
		t.Fatalf("BIRD %s on %s did not restrict the session: %v, %v", c.Version, sock, ok, err)
	}
	err = c.withContext(ctx, func() error {
		if _, err := c.nc.Write([]byte("configure undo\n")); err != nil {
			return err
		}
		return c.lr.readReply("configure undo", func(int, []byte, int) {})
	})
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != 8007 {
		t.Fatalf("BIRD %s, restricted session: configure undo answered %v, want 8007 Access denied", c.Version, err)
	}
	// Queries still work on the restricted session.
	if err := c.Run(ctx, CmdStatus, func(int, []byte, int) {}); err != nil {
		t.Fatalf("show status on a restricted session: %v", err)
	}
}
