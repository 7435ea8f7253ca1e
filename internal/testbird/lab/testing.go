package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

// Prereqs requires what every lab needs: root and the binaries hack/prereqs.sh installs (skip locally,
// fail under CI=true).
func Prereqs(t testing.TB) {
	t.Helper()
	prereq.Root(t)
	how := "run hack/prereqs.sh as root (make prereqs)"
	for _, b := range []string{"ip", "/usr/sbin/bird", "/usr/sbin/bird6", "/usr/sbin/birdc", "/usr/sbin/birdc6", "gobgpd", "gobgp"} {
		prereq.Binary(t, b, how)
	}
	out, err := bird2Dir()
	prereq.Require(t, err == nil, "BIRD 2 unpacked by hack/prereqs.sh ("+out+")", how)
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

// Flavour is one BIRD build the lab and e2e tiers run their nodes on.
type Flavour struct {
	Name string // for subtests: "bird1" (Debian BIRD 1.6), "bird2" (Debian BIRD 2), "calico" (Calico's fork)
	Tag  string // one character for lab names: "1", "2", "c"
	Bird int    // daemon layout and reply dialect: 1 (bird + bird6) or 2 (one daemon)
	// Flavour is FlavourStock or FlavourCalico.
	Flavour string
}

// Options returns o set to run on this flavour.
func (f Flavour) Options(o Options) Options {
	o.Bird, o.Flavour = f.Bird, f.Flavour
	return o
}

var (
	Bird1  = Flavour{Name: "bird1", Tag: "1", Bird: 1, Flavour: FlavourStock}
	Bird2  = Flavour{Name: "bird2", Tag: "2", Bird: 2, Flavour: FlavourStock}
	Calico = Flavour{Name: "calico", Tag: "c", Bird: 1, Flavour: FlavourCalico}
)

// Flavours lists the builds the lab tiers run on: Debian's BIRD 1.6 and 2 always, and Calico's BIRD fork
// when a build is given (CNS_CALICO_BIRD) or found in the cache (see CalicoBird).
func Flavours(t testing.TB) []Flavour {
	t.Helper()
	fs := []Flavour{Bird1, Bird2}
	if _, ok := CalicoBird(t); ok {
		fs = append(fs, Calico)
	}
	return fs
}

// CalicoBird returns the directory of the Calico BIRD build the lab uses (paths.sh: $CNS_CALICO_BIRD, else
// $CNS_CACHE_DIR/calico-bird when it exists) and whether there is one. A directory that is named or
// present but not a usable build (test/lab/README.md says what it must hold) fails the test under
// CI=true; elsewhere the calico flavour is left out with a log line saying why. No directory at all only
// leaves the calico flavour out.
func CalicoBird(t testing.TB) (string, bool) {
	t.Helper()
	dir, err := calicoBird()
	if dir == "" {
		return "", false
	}
	if err != nil {
		msg := err.Error() + "; build one as test/lab/README.md says, or unset CNS_CALICO_BIRD / remove the directory"
		if prereq.InCI() {
			t.Fatal(msg)
		}
		t.Log("calico flavour left out: " + msg)
		return "", false
	}
	return dir, true
}

// calicoBird asks paths.sh (the one place that knows) for the Calico BIRD build directory and what is
// wrong with it: "" when there is none, an error when it is not usable.
func calicoBird() (string, error) {
	script := filepath.Join(filepath.Dir(Script()), "paths.sh")
	out, err := exec.Command("bash", "-c", `. "$1" && echo "$CALICO_BIRD_DIR" && cns_calico_bird_check`, "paths", script).CombinedOutput()
	dir, problem, _ := strings.Cut(string(out), "\n")
	problem = strings.TrimSpace(problem)
	if dir == "" || err == nil {
		return dir, nil
	}
	return dir, fmt.Errorf("calico flavour: %s (%w)", problem, err)
}
