package prereq

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where nothing may be skipped for a missing
// prerequisite.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require stops the test when ok is false: t.Fatalf under CI, t.Skipf elsewhere. what names the missing
// prerequisite and howToGet says how to provide it.
func Require(t testing.TB, ok bool, what, howToGet string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("missing prerequisite under CI=true: %s (%s)", what, howToGet)
	}
	t.Skipf("missing prerequisite: %s (%s)", what, howToGet)
}

// Root requires the test to run as root (network namespaces, BIRD labs).
func Root(t testing.TB) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "root", "run the lab tiers as root: sudo make test")
}

// Binary requires an executable on PATH or at an absolute path and returns its path.
func Binary(t testing.TB, name, howToGet string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Require(t, err == nil, "executable "+name, howToGet)
	return p
}
