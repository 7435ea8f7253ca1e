package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Options{})) }

// Names the manifests in config/ use; the tests check the manifests against these, so a rename in one
// place that is not followed everywhere fails here.
const (
	namespace      = "calico-node-status"
	serviceAccount = "calico-node-status-agent"
	agentUser      = "system:serviceaccount:" + namespace + ":" + serviceAccount
	nodeNameExtra  = "authentication.kubernetes.io/node-name"
	policyName     = "calico-node-status-node-isolation"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var (
	applyOnce   sync.Once
	applyDryRun string
	applyOut    string
	applyErr    error
)

// applyConfig runs, once per test binary, `kubectl apply --dry-run=server -k config/` and then
// `kubectl apply -k config/` for real, and returns both outputs. Tests that need the RBAC and the policy
// in place call it; the first caller does the work.
//
// The namespace is created for real first: a server dry run creates nothing, so the namespaced objects
// of the same dry run would be refused with "namespaces ... not found" (NamespaceLifecycle admission).
func applyConfig(t *testing.T) (dryRun, applied string) {
	t.Helper()
	env := testenv.Shared(t)
	applyOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dir := filepath.Join(env.RepoRoot, "config")
		if _, applyErr = env.Kubectl(ctx, "", "apply", "-f", filepath.Join(dir, "agent", "namespace.yaml")); applyErr != nil {
			return
		}
		if applyDryRun, applyErr = env.Kubectl(ctx, "", "apply", "--dry-run=server", "-k", dir); applyErr != nil {
			return
		}
		applyOut, applyErr = env.Kubectl(ctx, "", "apply", "-k", dir)
	})
	if applyErr != nil {
		t.Fatalf("apply config/: %v\ndry run output:\n%s", applyErr, applyDryRun)
	}
	return applyDryRun, applyOut
}

func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }
