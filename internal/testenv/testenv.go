package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	cnsscheme "github.com/calico-node-status/calico-node-status/internal/scheme"
	"github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned"
)

// Env is a running control plane.
type Env struct {
	// Config is the admin (system:masters) configuration.
	Config *rest.Config
	// Clientset is an admin client of CalicoNodeStatus: the generated clientset (pkg/generated), the
	// project's one client idiom with Kube.
	Clientset versioned.Interface
	// Kube is an admin client of the built-in APIs (Nodes, Events, RBAC, ...).
	Kube kubernetes.Interface
	// Client is an admin controller-runtime client that knows the CalicoNodeStatus and built-in types,
	// kept for the tiers under test/ (bench, fleet, image, node, deploy, e2e), which are written against
	// it; the other tests use Clientset, Kube and, for objects of any kind as unstructured, Resource.
	Client client.Client
	Scheme *runtime.Scheme
	// BinDir holds kube-apiserver, etcd and kubectl.
	BinDir string
	// Kubeconfig is the path of an admin kubeconfig file for kubectl.
	Kubeconfig string
	// RepoRoot is the repository's top directory.
	RepoRoot string

	env     *envtest.Environment
	workDir string
	objects *objects // see Resource
}

// Options tune Start.
type Options struct {
	// WorkDir keeps the kubeconfig and per-user files; a temporary directory when empty.
	WorkDir string
	// ExtraAPIServerArgs are added to kube-apiserver's command line (key without "--").
	ExtraAPIServerArgs map[string]string
	// CRDPaths replaces the CRDs installed at start (files or directories); nil installs ours from
	// config/crd/bases, an empty non-nil slice none.
	CRDPaths []string
}

// NewScheme returns the project's scheme (see internal/scheme).
func NewScheme() (*runtime.Scheme, error) { return cnsscheme.New() }

// RepoRoot finds the repository's top directory from the working directory (go test runs in the
// package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "controlplane", "build.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no hack/controlplane/build.sh above the working directory")
		}
		dir = parent
	}
}

// BinDir returns the directory with the control-plane binaries: $KUBEBUILDER_ASSETS when set, otherwise
// what hack/controlplane/build.sh builds or reuses from its cache.
func BinDir(root string) (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command(filepath.Join(root, "hack", "controlplane", "build.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build control plane with hack/controlplane/build.sh: %w: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// Start starts etcd and kube-apiserver, installs the CRD and waits until the API serves it.
func Start(opts Options) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin, err := BinDir(root)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return nil, fmt.Errorf("control-plane binary %s missing in %s (run make controlplane): %w", name, bin, err)
		}
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	workDir := opts.WorkDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "cns-testenv-"); err != nil {
			return nil, fmt.Errorf("create work directory: %w", err)
		}
	}

	crds := []string{filepath.Join(root, "config", "crd", "bases")}
	if opts.CRDPaths != nil {
		crds = opts.CRDPaths
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    bin,
		CRDDirectoryPaths:        crds,
		ErrorIfCRDPathMissing:    true,
		Scheme:                   scheme,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	apiServer := env.ControlPlane.GetAPIServer()
	args := apiServer.Configure()
	// No kube-controller-manager runs, so the kubernetes Service's endpoints must not be reconciled.
	args.Set("endpoint-reconciler-type", "none")
	args.Set("authorization-mode", "RBAC")
	for k, v := range opts.ExtraAPIServerArgs {
		args.Set(k, v)
	}

	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("start control plane from %s: %w", bin, err)
	}
	e := &Env{Config: cfg, Scheme: scheme, BinDir: bin, RepoRoot: root, env: env, workDir: workDir}
	if err := e.clients(cfg); err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("admin clients: %w", err)
	}
	admin, err := env.AddUser(envtest.User{Name: "cns-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("add admin user: %w", err)
	}
	if e.Kubeconfig, err = writeKubeconfig(admin, filepath.Join(workDir, "admin.kubeconfig")); err != nil {
		_ = e.Stop()
		return nil, err
	}
	return e, nil
}

// clients sets Clientset, Kube and Client for cfg.
func (e *Env) clients(cfg *rest.Config) error {
	var err error
	if e.Clientset, err = versioned.NewForConfig(cfg); err != nil {
		return fmt.Errorf("clientset of projectcalico.org/v3: %w", err)
	}
	if e.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("clientset of the built-in APIs: %w", err)
	}
	if e.objects, err = newObjects(cfg); err != nil {
		return err
	}
	if e.Client, err = client.New(cfg, client.Options{Scheme: e.Scheme}); err != nil {
		return fmt.Errorf("controller-runtime client: %w", err)
	}
	return nil
}

func writeKubeconfig(u *envtest.AuthenticatedUser, path string) (string, error) {
	data, err := u.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("render kubeconfig %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write kubeconfig: %w", err)
	}
	return path, nil
}

// User is an authenticated user of the control plane (client certificate).
type User struct {
	Name   string
	Config *rest.Config
	// Clientset is the user's client of CalicoNodeStatus (pkg/generated).
	Clientset versioned.Interface
	// Client is the user's controller-runtime client, kept for the tiers under test/ (see Env.Client).
	Client     client.Client
	Kubeconfig string
}

// AddUser adds a user authenticated by a client certificate with the given name and groups. It has no
// permissions beyond what RBAC objects grant it.
func (e *Env) AddUser(name string, groups ...string) (*User, error) {
	au, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, e.Config)
	if err != nil {
		return nil, fmt.Errorf("add user %s: %w", name, err)
	}
	u := &User{Name: name, Config: au.Config()}
	if u.Clientset, err = versioned.NewForConfig(u.Config); err != nil {
		return nil, fmt.Errorf("clientset for user %s: %w", name, err)
	}
	if u.Client, err = client.New(u.Config, client.Options{Scheme: e.Scheme}); err != nil {
		return nil, fmt.Errorf("client for user %s: %w", name, err)
	}
	safe := strings.NewReplacer(":", "_", "/", "_").Replace(name)
	if u.Kubeconfig, err = writeKubeconfig(au, filepath.Join(e.workDir, safe+".kubeconfig")); err != nil {
		return nil, err
	}
	return u, nil
}

// Kubectl runs the built kubectl against the control plane as admin and returns its stdout; the error
// carries stderr.
func (e *Env) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	return e.KubectlAs(ctx, e.Kubeconfig, stdin, args...)
}

// KubectlAs runs the built kubectl with the given kubeconfig.
func (e *Env) KubectlAs(ctx context.Context, kubeconfig, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(e.BinDir, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Stop stops kube-apiserver, then etcd, and removes the temporary files.
func (e *Env) Stop() error {
	err := e.env.Stop()
	if e.workDir != "" && strings.Contains(filepath.Base(e.workDir), "cns-testenv-") {
		_ = os.RemoveAll(e.workDir)
	}
	if err != nil {
		return fmt.Errorf("stop control plane: %w", err)
	}
	return nil
}
