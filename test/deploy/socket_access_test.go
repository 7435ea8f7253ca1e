package deploy_test

// Tier "lab" (root, a real BIRD): the access to BIRD's control socket that config/agent/daemonset.yaml
// relies on, checked with the kernel's and BIRD's real behaviour rather than asserted in a comment.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// TestSocketAccess_NonRootWithGroupZeroConnectsThroughReadOnlyMount starts BIRD 1.6 (as Calico does: as
// root, without -u/-g) in its own network namespace, then connects to its control socket through a
// read-only bind mount of the socket's directory, in a private mount namespace, as uid 65532 with and
// without the supplementary group 0, exactly like the DaemonSet's agent container.
func TestSocketAccess_NonRootWithGroupZeroConnectsThroughReadOnlyMount(t *testing.T) {
	prereq.Root(t)
	bird := prereq.Binary(t, envOr("BIRD1_BIRD", "/usr/sbin/bird"), "make prereqs installs Debian's bird (1.6)")
	birdc := prereq.Binary(t, envOr("BIRD1_BIRDC", "/usr/sbin/birdc"), "make prereqs installs Debian's bird (1.6)")
	unshare := prereq.Binary(t, "unshare", "util-linux")
	setpriv := prereq.Binary(t, "setpriv", "util-linux")

	// Not t.TempDir(): its parent is 0700, and uid 65532 must traverse the path as it does /var/run/calico.
	dir, err := os.MkdirTemp("", "cns-socket-access-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run, ro := filepath.Join(dir, "run"), filepath.Join(dir, "ro")
	for _, d := range []string{run, ro} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte("router id 192.0.2.1;\nprotocol device {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(run, "bird.ctl")
	// Foreground (-f) in a new network namespace: this test owns the process and kills it by its id.
	daemon := exec.Command(unshare, "--net", bird, "-f", "-c", conf, "-s", sock)
	var daemonOut strings.Builder
	daemon.Stdout, daemon.Stderr = &daemonOut, &daemonOut
	if err := daemon.Start(); err != nil {
		t.Fatalf("start %s: %v", bird, err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill(); _ = daemon.Wait() })
	var fi os.FileInfo
	testenv.Eventually(t, 10*time.Second, "BIRD's control socket "+sock, func() (bool, error) {
		_, err := os.Stat(sock)
		return err == nil, fmt.Errorf("%w (bird output: %s)", err, daemonOut.String())
	})

	fi, err = os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("BIRD's control socket is %v uid %d gid %d; the DaemonSet assumes a root:root 0660 socket", fi.Mode(), st.Uid, st.Gid)
	}

	// Each case runs in a fresh private mount namespace with dir/run bind-mounted read-only on dir/ro.
	inReadOnlyMount := func(ctx context.Context, cmd ...string) (string, error) {
		script := `set -e; mount --bind "$1" "$2"; mount -o remount,bind,ro "$2"; shift 2; exec "$@"`
		args := append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", run, ro}, cmd...)
		out, err := exec.CommandContext(ctx, unshare, args...).CombinedOutput()
		return string(out), err
	}
	roSock := filepath.Join(ro, "bird.ctl")
	tests := []struct {
		name string
		cmd  []string
		want string // in the output
		ok   bool
	}{
		{"uid 65532 with supplementary group 0 connects", []string{setpriv, "--reuid", "65532", "--regid", "65532", "--groups", "0", birdc, "-s", roSock, "show", "status"}, "Daemon is up and running", true},
		{"uid 65532 without group 0 is refused", []string{setpriv, "--reuid", "65532", "--regid", "65532", "--clear-groups", birdc, "-s", roSock, "show", "status"}, "Permission denied", false},
		{"the read-only mount refuses to create files", []string{"touch", filepath.Join(ro, "x")}, "Read-only file system", false},
		{"the read-only mount refuses to remove the socket", []string{"rm", "-f", roSock}, "Read-only file system", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := inReadOnlyMount(ctxFor(t, 20*time.Second), tt.cmd...)
			if !strings.Contains(out, tt.want) {
				t.Errorf("%s: output does not contain %q (err %v):\n%s", strings.Join(tt.cmd, " "), tt.want, err, out)
			}
			if tt.ok != (err == nil) {
				t.Errorf("%s: exit error %v, want success %v", strings.Join(tt.cmd, " "), err, tt.ok)
			}
		})
	}
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("BIRD's socket is gone after the read-only checks: %v", err)
	}
}
