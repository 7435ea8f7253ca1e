// Command image builds an OCI image from static binaries without a container daemon, a registry or a base
// image (go-containerregistry), and pushes such an image to a registry.
//
//	image build --name ghcr.io/x/agent --tag v1 --out _output/image --path /agent \
//	    --binary linux/amd64=bin/linux_amd64/agent --binary linux/arm64=bin/linux_arm64/agent \
//	    --user 65532:65532 --expose 9496/tcp --label k=v
//	image push --layout _output/image/oci --to registry.example/agent:v1
//
// build writes, under --out:
//
//	oci/          an OCI image layout whose index.json names one multi-arch index (one image per platform),
//	              annotated with the image's name (io.containerd.image.name) and tag
//	              (org.opencontainers.image.ref.name) so `ctr images import` and skopeo know what it is
//	<base>.oci.tar  the same layout as one tar archive (ctr -n k8s.io images import, skopeo oci-archive:)
//	image.json    name, tag, reference and digest of the index, and the platforms (for scripts and tests)
//
// Every image is one layer on an empty base: the binary, and /etc/passwd and /etc/group naming root and
// the image's user (so tools that map ids to names work; the binary itself needs neither). There is no
// shell, no libc and no CA bundle: the agent only talks TLS to the API server, with the CA of its
// service-account volume (ca.crt), never with the system's trust store. Timestamps come from --created
// (SOURCE_DATE_EPOCH by default), so the same inputs give the same digests.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: image build|push [flags] (image <command> -h for the flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = buildCmd(os.Args[2:])
	case "push":
		err = pushCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (build, push)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "image %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Spec is what build makes an image of.
type Spec struct {
	Name, Tag  string
	Path       string            // where the binary goes in the image
	Entrypoint []string          // default: [Path]
	Args       []string          // the image's Cmd
	User       string            // uid:gid
	UserName   string            // the user's name in /etc/passwd
	Expose     []string          // port/proto
	Labels     map[string]string // config labels (and index annotations for the org.opencontainers ones)
	Binaries   map[string]string // platform (os/arch[/variant]) -> path of the static binary
	Created    time.Time
}

// Result is what build wrote (also image.json).
type Result struct {
	Name      string   `json:"name"`
	Tag       string   `json:"tag"`
	Reference string   `json:"reference"`
	Digest    string   `json:"digest"`
	Platforms []string `json:"platforms"`
	Layout    string   `json:"layout"`
	Archive   string   `json:"archive"`
}

func buildCmd(args []string) error {
	fset := flag.NewFlagSet("build", flag.ContinueOnError)
	var s Spec
	var binaries, expose, labels, entrypoint, cmdArgs multiFlag
	var out, created string
	fset.StringVar(&s.Name, "name", "", "image repository, e.g. ghcr.io/calico-node-status/calico-node-status-agent")
	fset.StringVar(&s.Tag, "tag", "", "image tag")
	fset.StringVar(&s.Path, "path", "", "absolute path of the binary in the image")
	fset.Var(&entrypoint, "entrypoint", "entrypoint element (repeatable; default: --path)")
	fset.Var(&cmdArgs, "arg", "default argument, the image's Cmd (repeatable)")
	fset.StringVar(&s.User, "user", "65532:65532", "numeric uid:gid the image runs as")
	fset.StringVar(&s.UserName, "user-name", "nonroot", "name of --user in /etc/passwd and /etc/group")
	fset.Var(&expose, "expose", "exposed port, port/proto (repeatable)")
	fset.Var(&labels, "label", "label key=value (repeatable)")
	fset.Var(&binaries, "binary", "os/arch[/variant]=path of a static binary (repeatable, one per platform)")
	fset.StringVar(&out, "out", "", "output directory (oci/, <base>.oci.tar, image.json)")
	fset.StringVar(&created, "created", os.Getenv("SOURCE_DATE_EPOCH"), "creation time, Unix seconds (default $SOURCE_DATE_EPOCH, else 0)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if s.Name == "" || s.Tag == "" || s.Path == "" || out == "" || len(binaries) == 0 {
		return errors.New("--name, --tag, --path, --out and at least one --binary are required")
	}
	s.Entrypoint, s.Args, s.Expose = entrypoint, cmdArgs, expose
	s.Labels = map[string]string{}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return fmt.Errorf("--label %q: want key=value", l)
		}
		s.Labels[k] = v
	}
	s.Binaries = map[string]string{}
	for _, b := range binaries {
		p, path, ok := strings.Cut(b, "=")
		if !ok || p == "" || path == "" {
			return fmt.Errorf("--binary %q: want os/arch=path", b)
		}
		s.Binaries[p] = path
	}
	secs := int64(0)
	if created != "" {
		var err error
		if secs, err = strconv.ParseInt(created, 10, 64); err != nil {
			return fmt.Errorf("--created %q: want Unix seconds: %w", created, err)
		}
	}
	s.Created = time.Unix(secs, 0).UTC()
	res, err := Build(s, out)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s (%s) -> %s, %s\n", res.Reference, res.Digest, strings.Join(res.Platforms, ", "), res.Layout, res.Archive)
	return nil
}

// Build writes the image described by s under out and returns what it wrote.
func Build(s Spec, out string) (*Result, error) {
	ref, err := name.NewTag(s.Name + ":" + s.Tag)
	if err != nil {
		return nil, fmt.Errorf("image reference %s:%s: %w", s.Name, s.Tag, err)
	}
	if !filepath.IsAbs(s.Path) {
		return nil, fmt.Errorf("--path %q must be absolute", s.Path)
	}
	uid, gid, err := parseUser(s.User)
	if err != nil {
		return nil, err
	}
	entrypoint := s.Entrypoint
	if len(entrypoint) == 0 {
		entrypoint = []string{s.Path}
	}
	ports := map[string]struct{}{}
	for _, p := range s.Expose {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		ports[p] = struct{}{}
	}

	platforms := make([]string, 0, len(s.Binaries))
	for p := range s.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", p, err)
		}
		bin, err := os.ReadFile(s.Binaries[p])
		if err != nil {
			return nil, fmt.Errorf("read the %s binary: %w", p, err)
		}
		layerTar, err := rootfs(s.Path, bin, uid, gid, s.UserName, s.Created)
		if err != nil {
			return nil, err
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(layerTar)), nil
		}, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, fmt.Errorf("%s layer: %w", p, err)
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
			Created:   v1.Time{Time: s.Created},
			CreatedBy: fmt.Sprintf("hack/image: %s (static binary), /etc/passwd, /etc/group", s.Path),
		}})
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", p, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant, cf.Created = plat.OS, plat.Architecture, plat.Variant, v1.Time{Time: s.Created}
		cf.Config = v1.Config{
			User:         s.User,
			Entrypoint:   entrypoint,
			Cmd:          s.Args,
			ExposedPorts: ports,
			Labels:       s.Labels,
			WorkingDir:   "/",
		}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, fmt.Errorf("%s config: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	anns := map[string]string{}
	for k, v := range s.Labels {
		if strings.HasPrefix(k, "org.opencontainers.image.") {
			anns[k] = v
		}
	}
	if len(anns) > 0 {
		idx = mutate.Annotations(idx, anns).(v1.ImageIndex)
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("index digest: %w", err)
	}

	layoutDir := filepath.Join(out, "oci")
	if err := os.RemoveAll(layoutDir); err != nil {
		return nil, fmt.Errorf("remove the old layout %s: %w", layoutDir, err)
	}
	lp, err := layout.Write(layoutDir, empty.Index)
	if err != nil {
		return nil, fmt.Errorf("create the OCI layout %s: %w", layoutDir, err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          ref.Name(),
		"org.opencontainers.image.ref.name": s.Tag,
	})); err != nil {
		return nil, fmt.Errorf("write the index into %s: %w", layoutDir, err)
	}
	archive := filepath.Join(out, filepath.Base(s.Name)+".oci.tar")
	if err := tarDir(layoutDir, archive, s.Created); err != nil {
		return nil, err
	}
	res := &Result{Name: s.Name, Tag: s.Tag, Reference: ref.Name(), Digest: digest.String(), Platforms: platforms, Layout: layoutDir, Archive: archive}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "image.json"), append(js, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write image.json: %w", err)
	}
	return res, nil
}

func parseUser(u string) (uid, gid int, err error) {
	us, gs, ok := strings.Cut(u, ":")
	if !ok {
		gs = us
	}
	if uid, err = strconv.Atoi(us); err == nil {
		gid, err = strconv.Atoi(gs)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want numeric uid:gid (a name needs /etc/passwd lookups at run time; runAsNonRoot needs a number): %w", u, err)
	}
	return uid, gid, nil
}

// rootfs returns the image's only layer, an uncompressed tar: the binary at path and minimal
// /etc/passwd and /etc/group files.
func rootfs(path string, bin []byte, uid, gid int, userName string, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	add := func(name string, mode int64, data []byte) error {
		// Parent directories first, each once, in order.
		var parents []string
		for d := filepath.Dir(name); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: created, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(name, "/"), Mode: mode, Size: int64(len(data)), ModTime: created, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n"
	group := "root:x:0:\n"
	if uid != 0 {
		passwd += fmt.Sprintf("%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", userName, uid, gid, userName, userName)
	}
	if gid != 0 {
		group += fmt.Sprintf("%s:x:%d:\n", userName, gid)
	}
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"/etc/group", 0o644, []byte(group)}, {"/etc/passwd", 0o644, []byte(passwd)}, {path, 0o755, bin}} {
		if err := add(f.name, f.mode, f.data); err != nil {
			return nil, fmt.Errorf("layer file %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarDir writes dir's files into the tar archive dst, in a stable order with fixed owners and times, so
// the same layout gives the same archive.
func tarDir(dir, dst string, mtime time.Time) error {
	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	defer func() { _ = os.Remove(tmp) }()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime, Format: tar.FormatPAX}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s from %s: %w", dst, dir, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

func pushCmd(args []string) error {
	fset := flag.NewFlagSet("push", flag.ContinueOnError)
	var dir, to string
	var insecure bool
	fset.StringVar(&dir, "layout", "", "OCI layout written by build (its oci/ directory)")
	fset.StringVar(&to, "to", "", "destination reference, e.g. registry.example/calico-node-status-agent:v1")
	fset.BoolVar(&insecure, "insecure", false, "allow plain HTTP (a registry on localhost)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if dir == "" || to == "" {
		return errors.New("--layout and --to are required")
	}
	digest, err := Push(dir, to, insecure, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return err
	}
	fmt.Printf("%s@%s\n", to, digest)
	return nil
}

// Push writes the layout's index (the first entry of its index.json) with every image to the registry
// reference to and returns the index's digest.
func Push(dir, to string, insecure bool, opts ...remote.Option) (string, error) {
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(to, nopts...)
	if err != nil {
		return "", fmt.Errorf("reference %q: %w", to, err)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return "", fmt.Errorf("open the OCI layout %s: %w", dir, err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		return "", fmt.Errorf("read %s/index.json: %w", dir, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return "", err
	}
	if len(im.Manifests) == 0 || !im.Manifests[0].MediaType.IsIndex() {
		return "", fmt.Errorf("%s/index.json does not name an image index (written by image build?)", dir)
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return "", fmt.Errorf("read the index %s: %w", im.Manifests[0].Digest, err)
	}
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return "", fmt.Errorf("push to %s: %w", ref, err)
	}
	return im.Manifests[0].Digest.String(), nil
}
