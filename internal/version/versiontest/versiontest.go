// Package versiontest checks a binary's --version against what the build stamps in (the ldflags make
// image and make release use); both binaries' tests call it.
package versiontest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// CheckFlag builds the main package in the current directory as name with -ldflags -X values and checks
// that `name --version` prints them.
func CheckFlag(t *testing.T, name string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	const pkg = "github.com/calico-node-status/calico-node-status/internal/version"
	ldflags := "-X " + pkg + ".Version=v7.7.7-test -X " + pkg + ".Commit=c0ffee"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	want := name + " v7.7.7-test (commit c0ffee, " + runtime.Version() + ")"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("--version printed %q, want %q", got, want)
	}
}
