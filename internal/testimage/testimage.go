// Package testimage builds the agent's image with hack/image/build.sh (what `make image` runs) for tests,
// and reads the OCI layout it writes with the standard library only, so tests check the files a runtime
// would get rather than what the builder meant to write.
package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Built is the image.json hack/image writes beside the layout.
type Built struct {
	Name      string   `json:"name"`
	Tag       string   `json:"tag"`
	Reference string   `json:"reference"`
	Digest    string   `json:"digest"`
	Platforms []string `json:"platforms"`
	Layout    string   `json:"layout"`
	Archive   string   `json:"archive"`
	// Dir is the output directory.
	Dir string `json:"-"`
}

// Options of Build.
type Options struct {
	Out       string   // output directory (required)
	Tag       string   // default: the version
	Platforms []string // default: hack/image/build.sh's (linux/amd64, linux/arm64)
	Labels    []string // extra k=v labels
	Pause     bool     // the sandbox image instead of the agent
	Name      string   // default: the agent's repository
}

// Build runs hack/image/build.sh from the repository at root and returns what it wrote.
func Build(root string, o Options) (*Built, error) {
	args := []string{"--out", o.Out}
	if o.Tag != "" {
		args = append(args, "--tag", o.Tag)
	}
	if len(o.Platforms) > 0 {
		args = append(args, "--platforms", strings.Join(o.Platforms, ","))
	}
	for _, l := range o.Labels {
		args = append(args, "--label", l)
	}
	if o.Pause {
		args = append(args, "--pause")
	}
	if o.Name != "" {
		args = append(args, "--name", o.Name)
	}
	cmd := exec.Command(filepath.Join(root, "hack", "image", "build.sh"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hack/image/build.sh %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	b, err := os.ReadFile(filepath.Join(o.Out, "image.json"))
	if err != nil {
		return nil, fmt.Errorf("read image.json after hack/image/build.sh: %w", err)
	}
	var built Built
	if err := json.Unmarshal(b, &built); err != nil {
		return nil, fmt.Errorf("parse %s/image.json: %w", o.Out, err)
	}
	built.Dir = o.Out
	for _, p := range []*string{&built.Layout, &built.Archive} {
		if !filepath.IsAbs(*p) {
			*p = filepath.Join(root, *p)
		}
	}
	return &built, nil
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *Platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Platform of an index entry.
type Platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// String is os/arch[/variant].
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Index is an OCI image index (also the layout's index.json).
type Index struct {
	MediaType   string            `json:"mediaType"`
	Manifests   []Descriptor      `json:"manifests"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	MediaType string       `json:"mediaType"`
	Config    Descriptor   `json:"config"`
	Layers    []Descriptor `json:"layers"`
}

// Config is the part of an OCI image configuration the tests look at.
type Config struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User         string              `json:"User"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Env          []string            `json:"Env"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Labels       map[string]string   `json:"Labels"`
		WorkingDir   string              `json:"WorkingDir"`
	} `json:"config"`
}

// Layout is an OCI image layout directory.
type Layout string

// Blob reads a blob by digest and checks it matches the digest's hex (sha256 only).
func (l Layout) Blob(digest string) ([]byte, error) {
	algo, hex, ok := strings.Cut(digest, ":")
	if !ok || algo != "sha256" {
		return nil, fmt.Errorf("blob %q: want a sha256 digest", digest)
	}
	b, err := os.ReadFile(filepath.Join(string(l), "blobs", algo, hex))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", digest, err)
	}
	if got := sha256Hex(b); got != hex {
		return nil, fmt.Errorf("blob %s has digest sha256:%s", digest, got)
	}
	return b, nil
}

func (l Layout) json(digest string, v any) error {
	b, err := l.Blob(digest)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse blob %s: %w", digest, err)
	}
	return nil
}

// Top reads index.json.
func (l Layout) Top() (*Index, error) {
	b, err := os.ReadFile(filepath.Join(string(l), "index.json"))
	if err != nil {
		return nil, fmt.Errorf("read %s/index.json: %w", l, err)
	}
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("parse %s/index.json: %w", l, err)
	}
	return &idx, nil
}

// Index reads the image index a digest names.
func (l Layout) Index(digest string) (*Index, error) {
	var idx Index
	return &idx, l.json(digest, &idx)
}

// Image is one platform's manifest and configuration.
type Image struct {
	Platform Platform
	Digest   string
	Manifest Manifest
	Config   Config
}

// Images returns the images of the multi-arch index the layout's index.json names first.
func (l Layout) Images() (*Index, []Image, error) {
	top, err := l.Top()
	if err != nil {
		return nil, nil, err
	}
	if len(top.Manifests) != 1 {
		return nil, nil, fmt.Errorf("%s/index.json names %d entries, want the one multi-arch index", l, len(top.Manifests))
	}
	idx, err := l.Index(top.Manifests[0].Digest)
	if err != nil {
		return nil, nil, err
	}
	var imgs []Image
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			return nil, nil, fmt.Errorf("index entry %s has no platform", d.Digest)
		}
		img := Image{Platform: *d.Platform, Digest: d.Digest}
		if err := l.json(d.Digest, &img.Manifest); err != nil {
			return nil, nil, err
		}
		if err := l.json(img.Manifest.Config.Digest, &img.Config); err != nil {
			return nil, nil, err
		}
		imgs = append(imgs, img)
	}
	return idx, imgs, nil
}

// Image returns the image of one platform (os/arch).
func (l Layout) Image(platform string) (*Image, error) {
	_, imgs, err := l.Images()
	if err != nil {
		return nil, err
	}
	for i := range imgs {
		if imgs[i].Platform.String() == platform {
			return &imgs[i], nil
		}
	}
	return nil, fmt.Errorf("no %s image in %s", platform, l)
}

// File is one entry of a layer.
type File struct {
	Name     string
	Mode     os.FileMode
	Uid, Gid int
	Type     byte
	Data     []byte // regular files only
}

// Files lists the entries of the image's layers, in order (no whiteout handling: our images have one
// layer).
func (l Layout) Files(img *Image) ([]File, error) {
	var files []File
	for _, ld := range img.Manifest.Layers {
		b, err := l.Blob(ld.Digest)
		if err != nil {
			return nil, err
		}
		var r io.Reader = bytes.NewReader(b)
		if strings.HasSuffix(ld.MediaType, "+gzip") {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", ld.Digest, err)
			}
			r = zr
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", ld.Digest, err)
			}
			f := File{Name: strings.TrimPrefix(h.Name, "./"), Mode: os.FileMode(h.Mode).Perm(), Uid: h.Uid, Gid: h.Gid, Type: h.Typeflag}
			if h.Typeflag == tar.TypeReg {
				if f.Data, err = io.ReadAll(tr); err != nil {
					return nil, fmt.Errorf("layer %s, %s: %w", ld.Digest, h.Name, err)
				}
			}
			files = append(files, f)
		}
	}
	return files, nil
}

// Unpack writes the image's files under dst (a root file system for an OCI runtime bundle). Only
// directories and regular files are expected; anything else is an error.
func (l Layout) Unpack(img *Image, dst string) error {
	files, err := l.Files(img)
	if err != nil {
		return err
	}
	for _, f := range files {
		p := filepath.Join(dst, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, filepath.Clean(dst)+string(filepath.Separator)) {
			return fmt.Errorf("unpack: %q leaves the root", f.Name)
		}
		switch f.Type {
		case tar.TypeDir:
			if err := os.MkdirAll(p, f.Mode|0o700); err != nil {
				return err
			}
			if err := os.Chmod(p, f.Mode); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
				return err
			}
			if err := os.Chmod(p, f.Mode); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unpack: %s has type %q, not expected in our images", f.Name, f.Type)
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(p, f.Uid, f.Gid); err != nil {
				return err
			}
		}
	}
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// LockHostPorts serializes the tests that run the agent as the DaemonSet does, on the host network with the
// DaemonSet's fixed ports (test/image's runtime test, test/node), across test binaries that go test runs in
// parallel: an exclusive flock held until the test ends.
func LockHostPorts(t testing.TB) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "cns-agent-hostports.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		t.Fatalf("lock %s: %v", path, err)
	}
	t.Cleanup(func() { _ = f.Close() }) // closing releases the lock
}
