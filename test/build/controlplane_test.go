package build_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// A stand-in for the go command: `go build ... -o <path> <pkg>` writes a small executable at <path> after a
// pause (long enough for two builds to overlap) and records the call; anything else fails.
const stubGo = `#!/usr/bin/env bash
set -euo pipefail
[ "$1" = build ] || { echo "stub go: unexpected $*" >&2; exit 2; }
out=
while [ $# -gt 0 ]; do
	case $1 in -o) out=$2; shift 2 ;; *) last=$1; shift ;; esac
done
echo "$last $out" >>"$STUB_LOG"
sleep 0.5
printf '#!/bin/sh\necho built from %s\n' "$last" >"$out"
`

// TestControlplaneBuild_ConcurrentFirstBuildsShareTheWork runs two first builds of the control plane at
// once into an empty cache (as `make demo` and `make test` do on a fresh machine): both succeed, print
// the same directory, and every binary is built exactly once, complete.
func TestControlplaneBuild_ConcurrentFirstBuildsShareTheWork(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("flock (util-linux) not installed: build.sh then runs without a lock")
	}
	stubDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(stubDir, "go"), []byte(stubGo), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	log := filepath.Join(t.TempDir(), "calls")
	env := append(os.Environ(), "PATH="+stubDir+":"+os.Getenv("PATH"), "CNS_CACHE_DIR="+cache, "STUB_LOG="+log)

	const n = 2
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(filepath.Join(root, "hack", "controlplane", "build.sh"), "--node")
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				errs[i] = err
				outs[i] = stderr.String()
				return
			}
			outs[i] = strings.TrimSpace(stdout.String())
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("build %d failed: %v\n%s", i, errs[i], outs[i])
		}
	}
	if outs[0] != outs[1] || !strings.HasPrefix(outs[0], cache) {
		t.Fatalf("the builds printed %q and %q, want one directory under %s", outs[0], outs[1], cache)
	}
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"etcd", "kube-apiserver", "kubectl", "kube-controller-manager", "kube-scheduler", "kubelet"}
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	if len(lines) != len(names) {
		t.Errorf("%d go build calls, want one per binary (%d):\n%s", len(lines), len(names), calls)
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(outs[0], name))
		if err != nil || !strings.HasPrefix(string(b), "#!/bin/sh\necho built from") {
			t.Errorf("%s: %q (%v), want the complete stub binary", name, b, err)
		}
	}
	entries, err := os.ReadDir(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".XXXXXX") || (strings.HasPrefix(e.Name(), ".") && !strings.HasSuffix(e.Name(), ".stamp")) {
			t.Errorf("temporary file %s left in %s", e.Name(), outs[0])
		}
	}

	// A second run finds everything and builds nothing.
	cmd := exec.Command(filepath.Join(root, "hack", "controlplane", "build.sh"), "--node")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != outs[0] {
		t.Fatalf("warm run: %v: %s", err, out)
	}
	again, _ := os.ReadFile(log)
	if !bytes.Equal(again, calls) {
		t.Errorf("a warm run built again:\n%s", again)
	}
}
