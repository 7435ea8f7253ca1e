// Command release builds the CLI (cmd/calico-node-status) for every platform of a release into a dist
// directory, as the archives a kubectl plugin index (krew) installs, and writes the krew plugin manifest
// that names them with their sha256 (make release):
//
//	<dist>/calico-node-status_<version>_<os>_<arch>.tar.gz   kubectl-calico_node_status + LICENSE
//	<dist>/checksums.txt                                      sha256sum format
//	<dist>/plugins/calico-node-status.yaml                    krew manifest (krew-index layout)
//
// Archives are reproducible: fixed owners, modes and times (SOURCE_DATE_EPOCH), fixed gzip header.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	plugin     = "calico-node-status"
	pluginBin  = "kubectl-calico_node_status"
	versionPkg = "github.com/calico-node-status/calico-node-status/internal/version"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "release: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var dist, version, commit, platforms, repo, created string
	flag.StringVar(&dist, "dist", "dist", "output directory")
	flag.StringVar(&version, "version", "", "release version, a v-prefixed semantic version (hack/version.sh)")
	flag.StringVar(&commit, "commit", "", "git commit")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64", "comma-separated os/arch list")
	flag.StringVar(&repo, "repo", "https://github.com/calico-node-status/calico-node-status", "repository whose releases host the archives")
	flag.StringVar(&created, "created", os.Getenv("SOURCE_DATE_EPOCH"), "time of the archives' files, Unix seconds")
	flag.Parse()
	if !strings.HasPrefix(version, "v") || commit == "" {
		return errors.New("--version (v-prefixed) and --commit are required")
	}
	secs, _ := strconv.ParseInt(created, 10, 64)
	mtime := time.Unix(secs, 0).UTC()
	license, err := os.ReadFile("LICENSE")
	if err != nil {
		return fmt.Errorf("read LICENSE (run from the repository's top directory): %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dist, "plugins"), 0o755); err != nil {
		return err
	}
	var sums bytes.Buffer
	var entries []string
	for _, p := range strings.Split(platforms, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return fmt.Errorf("platform %q: want os/arch", p)
		}
		bin, err := build(goos, goarch, version, commit)
		if err != nil {
			return err
		}
		archive := fmt.Sprintf("%s_%s_%s_%s.tar.gz", plugin, version, goos, goarch)
		data, err := tarGz(mtime, file{pluginBin, 0o755, bin}, file{"LICENSE", 0o644, license})
		if err != nil {
			return fmt.Errorf("archive %s: %w", archive, err)
		}
		if err := os.WriteFile(filepath.Join(dist, archive), data, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		hexSum := hex.EncodeToString(sum[:])
		fmt.Fprintf(&sums, "%s  %s\n", hexSum, archive)
		entries = append(entries, fmt.Sprintf(`  - selector:
      matchLabels:
        os: %s
        arch: %s
    uri: %s/releases/download/%s/%s
    sha256: %s
    bin: %s
    files:
      - from: %s
        to: .
      - from: LICENSE
        to: .
`, goos, goarch, repo, version, archive, hexSum, pluginBin, pluginBin))
		fmt.Printf("%s %s\n", hexSum, filepath.Join(dist, archive))
	}
	if err := os.WriteFile(filepath.Join(dist, "checksums.txt"), sums.Bytes(), 0o644); err != nil {
		return err
	}
	manifest := fmt.Sprintf(`apiVersion: krew.googlecontainers.github.com/v1alpha2
kind: Plugin
metadata:
  name: %s
spec:
  version: %s
  homepage: %s
  shortDescription: Show and request the BGP status of Calico nodes
  description: |
    Shows CalicoNodeStatus objects (projectcalico.org/v3) the way "calicoctl node status" shows a
    node: the BGP daemons, the IPv4 and IPv6 BGP peers and the routes, as last reported by the
    calico-node-status agent on the object's node, marking a stale or not-ready status as such; and
    creates such objects. Needs the calico-node-status agent on the cluster.
  platforms:
%s`, plugin, version, repo, strings.Join(entries, ""))
	path := filepath.Join(dist, "plugins", plugin+".yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

// build cross-compiles the CLI, static, stamped with the version.
func build(goos, goarch, version, commit string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "cns-release-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	out := filepath.Join(tmp, pluginBin)
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags", fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s", versionPkg, version, versionPkg, commit),
		"-o", out, "./cmd/calico-node-status")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build the CLI for %s/%s: %w", goos, goarch, err)
	}
	return os.ReadFile(out)
}

type file struct {
	name string
	mode int64
	data []byte
}

func tarGz(mtime time.Time, files ...file) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	// A fixed gzip header: no name, no time, so the archive depends only on its files.
	zw.ModTime = time.Time{}
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
