package image_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testimage"
)

var (
	buildOnce sync.Once
	built     *testimage.Built
	buildErr  error
)

// agentImage builds the agent's multi-arch image once per test binary, as `make image` does.
func agentImage(t *testing.T) *testimage.Built {
	t.Helper()
	buildOnce.Do(func() {
		root := repoRoot(t)
		var dir string
		if dir, buildErr = os.MkdirTemp("", "cns-image-"); buildErr != nil {
			return
		}
		built, buildErr = testimage.Build(root, testimage.Options{Out: dir})
	})
	if buildErr != nil {
		t.Fatalf("build the agent image: %v", buildErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != nil {
		_ = os.RemoveAll(built.Dir)
	}
	os.Exit(code)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// dockerfile is what the final stage of the Dockerfile says about the image.
type dockerfile struct {
	user       string
	expose     []string // port/proto
	entrypoint []string
}

// parseDockerfile reads USER, EXPOSE and ENTRYPOINT (exec form) of the last stage.
func parseDockerfile(path string) (dockerfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return dockerfile{}, err
	}
	var d dockerfile
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	cont := ""
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cont += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		lines = append(lines, cont+l)
		cont = ""
	}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM": // a new stage: only the last one's settings count
			d = dockerfile{}
		case "USER":
			d.user = rest
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				d.expose = append(d.expose, p)
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &d.entrypoint); err != nil {
				return d, fmt.Errorf("ENTRYPOINT %s: want the exec (JSON) form: %w", rest, err)
			}
		}
	}
	sort.Strings(d.expose)
	return d, nil
}

func daemonSet(t *testing.T) (*appsv1.DaemonSet, *corev1.Container) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "agent", "daemonset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(b, &ds); err != nil {
		t.Fatalf("parse config/agent/daemonset.yaml: %v", err)
	}
	for i := range ds.Spec.Template.Spec.Containers {
		if c := &ds.Spec.Template.Spec.Containers[i]; c.Name == "agent" {
			return &ds, c
		}
	}
	t.Fatal("config/agent/daemonset.yaml has no container named agent")
	return nil, nil
}

// TestImage_DockerfileImageAndDaemonSetAgree checks that the image `make image` builds, the Dockerfile
// and the DaemonSet say the same about the user, the entrypoint and the ports, and that the DaemonSet's
// ports are the ones the agent's arguments bind.
func TestImage_DockerfileImageAndDaemonSetAgree(t *testing.T) {
	img := agentImage(t)
	df, err := parseDockerfile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	ds, c := daemonSet(t)

	sc := ds.Spec.Template.Spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil || sc.RunAsGroup == nil {
		t.Fatal("the DaemonSet's pod securityContext sets no runAsUser/runAsGroup")
	}
	dsUser := fmt.Sprintf("%d:%d", *sc.RunAsUser, *sc.RunAsGroup)
	var dsPorts []string
	for _, p := range c.Ports {
		dsPorts = append(dsPorts, fmt.Sprintf("%d/%s", p.ContainerPort, strings.ToLower(string(p.Protocol))))
	}
	sort.Strings(dsPorts)
	// The ports the agent binds come from its arguments; the DaemonSet's ports must be those.
	var argPorts []string
	for _, a := range c.Args {
		for _, flag := range []string{"--metrics-bind-address=", "--health-probe-bind-address="} {
			if v, ok := strings.CutPrefix(a, flag); ok {
				_, port, _ := strings.Cut(v, ":")
				argPorts = append(argPorts, port+"/tcp")
			}
		}
	}
	sort.Strings(argPorts)
	if !reflect.DeepEqual(argPorts, dsPorts) {
		t.Errorf("the DaemonSet declares ports %v but the agent's arguments bind %v", dsPorts, argPorts)
	}
	if len(c.Command) != 0 {
		t.Errorf("the DaemonSet overrides the image's entrypoint with %v; the image's and the Dockerfile's must be used", c.Command)
	}

	if df.user != dsUser {
		t.Errorf("Dockerfile USER %q, DaemonSet runAsUser:runAsGroup %q", df.user, dsUser)
	}
	if !reflect.DeepEqual(df.expose, dsPorts) {
		t.Errorf("Dockerfile EXPOSE %v, DaemonSet ports %v", df.expose, dsPorts)
	}
	_, imgs, err := testimage.Layout(img.Layout).Images()
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range imgs {
		var ports []string
		for p := range im.Config.Config.ExposedPorts {
			ports = append(ports, p)
		}
		sort.Strings(ports)
		cfg := im.Config.Config
		if cfg.User != df.user || !reflect.DeepEqual(cfg.Entrypoint, df.entrypoint) || !reflect.DeepEqual(ports, df.expose) {
			t.Errorf("%s image: user %q entrypoint %v ports %v; Dockerfile: user %q entrypoint %v ports %v",
				im.Platform, cfg.User, cfg.Entrypoint, ports, df.user, df.entrypoint, df.expose)
		}
	}

	// The repository config/ deploys is the one the image is built as.
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct{ Name, NewName string } `json:"images"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Images) != 1 || k.Images[0].Name != c.Image || k.Images[0].NewName != img.Name {
		t.Errorf("config/kustomization.yaml images %+v; want %s renamed to %s (the image make image builds)", k.Images, c.Image, img.Name)
	}
}

// TestImage_MultiArchStaticNonRootNoShell checks what is inside the image: one index with linux/amd64
// and linux/arm64, each a static binary of the right architecture as the entrypoint, a non-root user
// known to /etc/passwd, and nothing else (no shell, no libc).
func TestImage_MultiArchStaticNonRootNoShell(t *testing.T) {
	img := agentImage(t)
	l := testimage.Layout(img.Layout)
	top, err := l.Top()
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != img.Digest ||
		top.Manifests[0].Annotations["io.containerd.image.name"] != img.Reference ||
		top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != img.Tag {
		t.Errorf("index.json %+v: want one entry %s named %s (tag %s)", top.Manifests, img.Digest, img.Reference, img.Tag)
	}
	idx, imgs, err := l.Images()
	if err != nil {
		t.Fatal(err)
	}
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("index media type %q", idx.MediaType)
	}
	machines := map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64}
	var platforms []string
	for _, im := range imgs {
		p := im.Platform.String()
		platforms = append(platforms, p)
		t.Run(p, func(t *testing.T) {
			if im.Config.OS+"/"+im.Config.Architecture != p {
				t.Errorf("config says %s/%s", im.Config.OS, im.Config.Architecture)
			}
			uid, _, _ := strings.Cut(im.Config.Config.User, ":")
			if n, err := strconv.Atoi(uid); err != nil || n == 0 {
				t.Errorf("user %q: want a numeric non-root uid (runAsNonRoot needs a number)", im.Config.Config.User)
			}
			files, err := l.Files(&im)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			byName := map[string]testimage.File{}
			for _, f := range files {
				names = append(names, f.Name)
				byName[strings.TrimSuffix(f.Name, "/")] = f
			}
			want := []string{"etc/", "etc/group", "etc/passwd", "calico-node-status-agent"}
			sort.Strings(names)
			sort.Strings(want)
			if !reflect.DeepEqual(names, want) {
				t.Errorf("image files %v, want exactly %v (no shell, no libc)", names, want)
			}
			entry := strings.TrimPrefix(im.Config.Config.Entrypoint[0], "/")
			bin, ok := byName[entry]
			if !ok || bin.Type != tar.TypeReg || bin.Mode&0o111 == 0 {
				t.Fatalf("entrypoint %s is not an executable file in the image", entry)
			}
			ef, err := elf.NewFile(bytes.NewReader(bin.Data))
			if err != nil {
				t.Fatalf("entrypoint is not an ELF binary: %v", err)
			}
			if ef.Machine != machines[p] {
				t.Errorf("binary for %s is %v", p, ef.Machine)
			}
			for _, prog := range ef.Progs {
				if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
					t.Errorf("binary has a %v program header: not static", prog.Type)
				}
			}
			if !strings.Contains(string(byName["etc/passwd"].Data), ":x:"+uid+":") {
				t.Errorf("/etc/passwd has no entry for uid %s:\n%s", uid, byName["etc/passwd"].Data)
			}
		})
	}
	sort.Strings(platforms)
	if !reflect.DeepEqual(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("index platforms %v, want linux/amd64 and linux/arm64", platforms)
	}
	// The archive is the layout as a tar: same index.json.
	f, err := os.Open(img.Archive)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	found := false
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		if h.Name == "index.json" {
			var ti testimage.Index
			if err := json.NewDecoder(tr).Decode(&ti); err != nil {
				t.Fatal(err)
			}
			found = len(ti.Manifests) == 1 && ti.Manifests[0].Digest == img.Digest
		}
	}
	if !found {
		t.Errorf("%s has no index.json naming %s", img.Archive, img.Digest)
	}
}

// TestImage_Reproducible builds the image a second time from the same commit: same digest.
func TestImage_Reproducible(t *testing.T) {
	first := agentImage(t)
	second, err := testimage.Build(repoRoot(t), testimage.Options{Out: t.TempDir(), Tag: first.Tag})
	if err != nil {
		t.Fatal(err)
	}
	if second.Digest != first.Digest {
		t.Errorf("two builds of the same tree gave %s and %s", first.Digest, second.Digest)
	}
}
