package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StopControlPlane stops kube-apiserver, then etcd, keeping etcd's data directory and the API server's
// certificates, so StartControlPlane brings the same cluster back on the same ports: clients and
// kubeconfigs made before keep working once it is up again. While it is stopped every request fails
// with a connection error, as in a control-plane outage.
//
// envtest's own Stop deletes the temporary data and certificate directories and its Start would make new
// ones (an empty etcd, new serving CA), which is not a restart. So the processes are signalled here
// (found by their command line among this process' children), and their directories move into the work
// directory, where Env.Stop removes them; StartControlPlane then hands envtest the existing directories,
// which it keeps and reuses (a directory given to it is never cleaned by it).
func (e *Env) StopControlPlane(ctx context.Context) error {
	cp := &e.env.ControlPlane
	api, etcd := cp.APIServer, cp.Etcd
	if api == nil || etcd == nil {
		return errors.New("stop control plane: not started")
	}
	if err := stopChild(ctx, api.Path, "--cert-dir="+api.CertDir); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	if err := stopChild(ctx, etcd.Path, "--data-dir="+etcd.DataDir); err != nil {
		return fmt.Errorf("stop etcd: %w", err)
	}
	var err error
	if api.CertDir, err = e.adopt(api.CertDir, "kube-apiserver-certs"); err != nil {
		return err
	}
	if etcd.DataDir, err = e.adopt(etcd.DataDir, "etcd-data"); err != nil {
		return err
	}
	return nil
}

// StartControlPlane starts etcd, then kube-apiserver, stopped by StopControlPlane, on the same ports and
// with the same data and certificates, and waits until the API server is healthy.
func (e *Env) StartControlPlane(ctx context.Context) error {
	cp := &e.env.ControlPlane
	api, etcd := cp.APIServer, cp.Etcd
	if api == nil || etcd == nil {
		return errors.New("start control plane: not started before")
	}
	// The start timeouts of envtest apply; ctx only stops us from starting when it is already over.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start control plane: %w", err)
	}
	if err := etcd.Start(); err != nil {
		return fmt.Errorf("restart etcd on %s with data in %s: %w", etcd.URL, etcd.DataDir, err)
	}
	// The API server's ports, serving certificate and client CA are kept by envtest between runs; only
	// the certificate directory (given back above) is read again.
	if err := api.Start(); err != nil {
		return fmt.Errorf("restart kube-apiserver on port %s: %w", api.SecureServing.Port, err)
	}
	return nil
}

// RestartControlPlane stops and starts kube-apiserver and etcd in place (see StopControlPlane).
func (e *Env) RestartControlPlane(ctx context.Context) error {
	if err := e.StopControlPlane(ctx); err != nil {
		return err
	}
	return e.StartControlPlane(ctx)
}

// adopt moves a directory envtest created (and would delete) into the work directory, which Env.Stop
// removes, and returns its new path. When it cannot be moved (another file system), it stays where it is
// and is left behind after the tests: better than losing the cluster's data.
func (e *Env) adopt(dir, name string) (string, error) {
	if e.workDir == "" || strings.HasPrefix(dir, e.workDir+string(filepath.Separator)) {
		return dir, nil
	}
	dst := filepath.Join(e.workDir, name)
	if err := os.RemoveAll(dst); err != nil {
		return "", fmt.Errorf("clear %s for the control plane's files: %w", dst, err)
	}
	if err := os.Rename(dir, dst); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, syscall.EXDEV) {
			return dir, nil
		}
		return "", fmt.Errorf("move %s to %s: %w", dir, dst, err)
	}
	return dst, nil
}

// stopGrace is how long a stopped process may take to exit on SIGTERM before it gets SIGKILL. etcd exits
// at once; kube-apiserver keeps draining its clients' watches for far longer (tens of seconds with agents
// connected), and an API server that dies is as much a restart for its clients as one that drains.
const stopGrace = 5 * time.Second

// stopChild sends SIGTERM to the child process of this process that runs path with arg on its command
// line, and waits until it is gone (envtest's goroutine reaps it), with SIGKILL after stopGrace.
func stopChild(ctx context.Context, path, arg string) error {
	pid, err := findChild(path, arg)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal pid %d: %w", pid, err)
	}
	kill := time.After(stopGrace)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("wait for pid %d to exit: %w", pid, ctx.Err())
		case <-kill:
			_ = syscall.Kill(pid, syscall.SIGKILL)
		case <-tick.C:
		}
	}
	return nil
}

// alive reports whether pid still exists and is not a zombie (a zombie has exited; its reaper is
// envtest's).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := bytes.Cut(b, []byte(") "))
	return ok && len(rest) > 0 && rest[0] != 'Z'
}

// findChild finds the child of this process started from path with arg among its arguments.
func findChild(path, arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name in parentheses: state, ppid, ...
		_, rest, ok := bytes.Cut(stat, []byte(") "))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) < 2 || f[1] != strconv.Itoa(self) {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) == 0 || args[0] != path {
			continue
		}
		for _, a := range args[1:] {
			if a == arg {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no child process %s with %s", path, arg)
}
