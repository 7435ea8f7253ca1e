package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// --version prints what the build stamped in with -ldflags -X, as make release does.
func TestCLIVersionFlagPrintsLinkerValues(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "calico-node-status")
	const pkg = "github.com/calico-node-status/calico-node-status/internal/version"
	ldflags := "-X " + pkg + ".Version=v7.7.7-test -X " + pkg + ".Commit=c0ffee"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	want := "calico-node-status v7.7.7-test (commit c0ffee, " + runtime.Version() + ")"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("--version printed %q, want %q", got, want)
	}
}
