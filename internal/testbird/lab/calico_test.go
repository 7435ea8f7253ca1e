package lab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCalicoBirdResolution: which Calico BIRD build the lab uses, and what counts as a usable one. The
// binaries are stand-in scripts: only the resolution and the checks are under test here.
func TestCalicoBirdResolution(t *testing.T) {
	build := func(t *testing.T, version string, skip ...string) string {
		t.Helper()
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "sbin"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{"bird", "bird6", "birdcl", "birdcl6"} {
			if slices.Contains(skip, b) {
				continue
			}
			script := "#!/bin/sh\necho 'BIRD version " + version + "' >&2\n"
			if err := os.WriteFile(filepath.Join(dir, "sbin", b), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	cache := t.TempDir()
	for _, tc := range []struct {
		name     string
		env      string // CNS_CALICO_BIRD
		inCache  string // a build at $CNS_CACHE_DIR/calico-bird
		wantDir  string // "" none; "env" or "cache"
		wantFail string // part of the problem; "" usable
	}{
		{name: "none", wantDir: ""},
		{name: "given and usable", env: build(t, "v0.3.3+birdv1.6.8"), wantDir: "env"},
		{name: "found in the cache", inCache: build(t, "v0.3.3+birdv1.6.8"), wantDir: "cache"},
		{name: "given wins over the cache", env: build(t, "v0.3.3+birdv1.6.8"), inCache: build(t, "v0.3.3+birdv1.6.8"), wantDir: "env"},
		{name: "given but absent", env: filepath.Join(t.TempDir(), "nope"), wantDir: "env", wantFail: "not a directory"},
		{name: "a stock BIRD", env: build(t, "1.6.8"), wantDir: "env", wantFail: "not Calico's fork"},
		{name: "no IPv6 client", env: build(t, "v0.3.3+birdv1.6.8", "birdcl6"), wantDir: "env", wantFail: "birdcl6 missing"},
		{name: "broken in the cache", inCache: build(t, "v0.3.3+birdv1.6.8", "bird6"), wantDir: "cache", wantFail: "bird6 missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cacheDir := filepath.Join(cache, tc.name)
			if err := os.MkdirAll(cacheDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.inCache != "" {
				if err := os.Symlink(tc.inCache, filepath.Join(cacheDir, "calico-bird")); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("CNS_CACHE_DIR", cacheDir)
			// CalicoBird fails a broken build under CI=true (CI's own run must use a usable build or none);
			// this test checks the resolution itself, as a developer's machine sees it.
			t.Setenv("CI", "")
			t.Setenv("CNS_CALICO_BIRD", tc.env)
			dir, err := calicoBird()
			want := map[string]string{"": "", "env": tc.env, "cache": filepath.Join(cacheDir, "calico-bird")}[tc.wantDir]
			if dir != want {
				t.Errorf("dir %q, want %q", dir, want)
			}
			if (err != nil) != (tc.wantFail != "") || (err != nil && !strings.Contains(err.Error(), tc.wantFail)) {
				t.Errorf("error %v, want one saying %q", err, tc.wantFail)
			}
			_, ok := CalicoBird(t) // outside CI: never fails the test, only leaves the flavour out
			if ok != (want != "" && tc.wantFail == "") {
				t.Errorf("CalicoBird ok = %v", ok)
			}
		})
	}
}
