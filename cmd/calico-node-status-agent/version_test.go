package main

import (
	"testing"

	"github.com/calico-node-status/calico-node-status/internal/version/versiontest"
)

// --version prints what the build stamped in with -ldflags -X, as make image and make release do.
func TestAgentVersionFlagPrintsLinkerValues(t *testing.T) {
	versiontest.CheckFlag(t, "calico-node-status-agent")
}
