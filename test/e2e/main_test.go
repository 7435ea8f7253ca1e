package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// workDir holds what the test binary shares between tests: the agent binary.
var workDir string

func TestMain(m *testing.M) {
	var err error
	if workDir, err = os.MkdirTemp("", "cns-e2e-"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	// The tests' own clients log nothing worth reading; the agents' logs are what a failure prints.
	ctrllog.SetLogger(logr.Discard())
	code := testenv.Main(m, testenv.Options{})
	_ = os.RemoveAll(workDir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	agentBin  string
	buildErr  error
)

// agentBinary builds cmd/calico-node-status-agent once per test binary, with the race detector when the
// tests run with it (a data race in the agent then ends the agent with exit status 66, which the tests
// see as a crash).
func agentBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := testenv.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(workDir, "calico-node-status-agent")
		args := []string{"build", "-o", bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/calico-node-status-agent")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %v in %s: %w\n%s", args, root, err, out)
			return
		}
		agentBin = bin
	})
	if buildErr != nil {
		t.Fatalf("build the agent: %v", buildErr)
	}
	return agentBin
}
