package testenv

import (
	"fmt"
	"os"
	"testing"

	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

var (
	shared    *Env
	sharedErr error
)

// Main runs a test binary with one control plane shared by its tests: call it from TestMain as
// os.Exit(testenv.Main(m, testenv.Options{})). Tests get it with Shared(t). The control plane is stopped
// after the tests, also when they fail.
func Main(m *testing.M, opts Options) int {
	shared, sharedErr = Start(opts)
	if sharedErr == nil {
		fmt.Fprintf(os.Stderr, "testenv: real control plane up: kube-apiserver + etcd from %s\n", shared.BinDir)
	}
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Shared returns the control plane started by Main, or stops the test (skip locally, fail under CI=true)
// when it could not start.
func Shared(t testing.TB) *Env {
	t.Helper()
	msg := ""
	if sharedErr != nil {
		msg = sharedErr.Error()
	}
	prereq.Require(t, shared != nil, "a real control plane: "+msg, "make controlplane builds kube-apiserver, etcd and kubectl")
	return shared
}
