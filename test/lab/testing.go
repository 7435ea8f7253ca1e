package lab

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testprereq"
)

// Prereqs requires what every lab needs: root and the binaries hack/prereqs.sh installs (skip locally,
// fail under CI=true).
func Prereqs(t testing.TB) {
	t.Helper()
	testprereq.Root(t)
	how := "run hack/prereqs.sh as root (make prereqs)"
	for _, b := range []string{"ip", "/usr/sbin/bird", "/usr/sbin/bird6", "/usr/sbin/birdc", "/usr/sbin/birdc6", "gobgpd", "gobgp"} {
		testprereq.Binary(t, b, how)
	}
	out, err := bird2Dir()
	testprereq.Require(t, err == nil, "BIRD 2 unpacked by hack/prereqs.sh ("+out+")", how)
}

// Start brings a lab up for the test and tears it down when the test ends. Give each test its own
// Options.Name so labs of parallel tests (and of other packages' tests) do not clash.
func Start(t testing.TB, o Options) *Lab {
	t.Helper()
	Prereqs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	name := o.Name
	if name == "" {
		name = "cnslab"
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Down(ctx, name); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	l, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	return l
}

// bird2Dir finds BIRD 2's unpacked tree the way paths.sh does.
func bird2Dir() (string, error) {
	cache := os.Getenv("CNS_CACHE_DIR")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			base = home + "/.cache"
		}
		cache = base + "/calico-node-status"
	}
	if d := os.Getenv("BIRD2_BIRD"); d != "" {
		_, err := os.Stat(d)
		return d, err
	}
	matches, _ := filepath.Glob(cache + "/bird2-*/usr/sbin/bird")
	if len(matches) == 0 {
		return cache + "/bird2-*/usr/sbin/bird", os.ErrNotExist
	}
	return matches[len(matches)-1], nil
}
