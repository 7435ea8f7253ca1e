package bird

import (
	"os/exec"
	"testing"

	"github.com/calico-node-status/calico-node-status/internal/testbird"
)

// realBird is a real BIRD this test started itself (see package testbird): BIRD 1.6 (bird + bird6) or
// BIRD 2 (one bird) in a network namespace of its own, with extraRoutes more static routes.
type realBird struct {
	d            *testbird.Daemons
	major        int
	sock4, sock6 string
}

func startRealBird(tb testing.TB, major, extraRoutes int) *realBird {
	tb.Helper()
	d := testbird.Start(tb, major, extraRoutes)
	return &realBird{d: d, major: major, sock4: d.Sock4, sock6: d.Sock6}
}

func (b *realBird) start()   { b.d.Start() }
func (b *realBird) kill()    { b.d.Kill() }
func (b *realBird) cleanup() { b.d.Cleanup() }

// birdcOut runs the version's birdc (birdc6 for BIRD 1.6's IPv6 daemon) for cmd.
func (b *realBird) birdcOut(v6 bool, cmd string) ([]byte, error) { return b.d.BirdcOut(v6, cmd) }

func execOutput(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
