package build_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestRelease_ArchivesAndKrewManifestAgree runs hack/release (what make release runs) for this machine's
// platform: the archive holds the plugin binary and the LICENSE, the binary runs and prints the release's
// version, and the krew manifest names the archive with its sha256.
func TestRelease_ArchivesAndKrewManifestAgree(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	platform := runtime.GOOS + "/" + runtime.GOARCH
	cmd := exec.Command("go", "run", "./hack/release", "--dist", dist, "--version", "v1.2.3-test", "--commit", "c0ffee", "--platforms", platform)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/release: %v\n%s", err, out)
	}
	archive := filepath.Join(dist, "calico-node-status_v1.2.3-test_"+runtime.GOOS+"_"+runtime.GOARCH+".tar.gz")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)

	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct{ Name string }
		Spec       struct {
			Version          string `json:"version"`
			Homepage         string `json:"homepage"`
			ShortDescription string `json:"shortDescription"`
			Description      string `json:"description"`
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				SHA256 string `json:"sha256"`
				Bin    string `json:"bin"`
				Files  []struct{ From, To string }
			} `json:"platforms"`
		} `json:"spec"`
	}
	b, err := os.ReadFile(filepath.Join(dist, "plugins", "calico-node-status.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &m); err != nil {
		t.Fatalf("krew manifest: %v\n%s", err, b)
	}
	if m.APIVersion != "krew.googlecontainers.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "calico-node-status" || m.Spec.Version != "v1.2.3-test" || len(m.Spec.Platforms) != 1 ||
		m.Spec.ShortDescription == "" || m.Spec.Description == "" || m.Spec.Homepage == "" {
		t.Fatalf("krew manifest header/platforms: %+v", m)
	}
	p := m.Spec.Platforms[0]
	if p.SHA256 != hex.EncodeToString(sum[:]) || !strings.HasSuffix(p.URI, "/v1.2.3-test/"+filepath.Base(archive)) ||
		p.Selector.MatchLabels["os"] != runtime.GOOS || p.Selector.MatchLabels["arch"] != runtime.GOARCH {
		t.Errorf("krew platform entry %+v does not name %s (sha256 %x)", p, filepath.Base(archive), sum)
	}
	sums, _ := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	if !strings.Contains(string(sums), hex.EncodeToString(sum[:])+"  "+filepath.Base(archive)) {
		t.Errorf("checksums.txt does not list the archive:\n%s", sums)
	}

	// The archive: exactly the files the manifest installs; the binary is the plugin and says its version.
	zr, err := gzip.NewReader(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	got := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name], _ = io.ReadAll(tr)
	}
	for _, f := range p.Files {
		if _, ok := got[f.From]; !ok {
			t.Errorf("the manifest installs %s, the archive has no such file", f.From)
		}
	}
	if len(got) != len(p.Files) || got[p.Bin] == nil {
		t.Fatalf("archive files %d, manifest files %d, bin %s present %v", len(got), len(p.Files), p.Bin, got[p.Bin] != nil)
	}
	bin := filepath.Join(t.TempDir(), p.Bin)
	if err := os.WriteFile(bin, got[p.Bin], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "calico-node-status v1.2.3-test (commit c0ffee, ") {
		t.Errorf("%s --version: %v: %s", p.Bin, err, out)
	}
}
