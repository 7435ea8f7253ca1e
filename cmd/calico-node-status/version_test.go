package main

import (
	"testing"

	"github.com/calico-node-status/calico-node-status/internal/version/versiontest"
)

// --version prints what the build stamped in with -ldflags -X, as make release does.
func TestCLIVersionFlagPrintsLinkerValues(t *testing.T) {
	versiontest.CheckFlag(t, "calico-node-status")
}
