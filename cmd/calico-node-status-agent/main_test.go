package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The binary is built and run for real: flag registration happens in init functions of dependencies
// (controller-runtime registers --kubeconfig), so only a real start shows a clash.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "calico-node-status-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestAgentBinaryFlagsAndRequiredNodeName(t *testing.T) {
	bin := buildAgent(t)

	out, err := exec.Command(bin, "--help").CombinedOutput()
	if strings.Contains(string(out), "panic") || strings.Contains(string(out), "redefined") {
		t.Fatalf("--help panicked: %s", out)
	}
	for _, f := range []string{"-node-name", "-kubeconfig", "-bird-socket", "-bird6-socket", "-metrics-bind-address", "-health-probe-bind-address", "-max-routes-per-family"} {
		if !strings.Contains(string(out), f) {
			t.Errorf("--help does not list %s:\n%s", f, out)
		}
	}

	cmd := exec.Command(bin, "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // no NODENAME
	out, err = cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("agent without a node name exited 0: %s", out)
	}
	if !strings.Contains(string(out), "--node-name") {
		t.Fatalf("error does not name --node-name: %s", out)
	}

	// A negative cap is refused at start, naming the flag.
	cmd = exec.Command(bin, "--node-name", "n", "--max-peers-per-family", "-1", "--metrics-bind-address", "0", "--health-probe-bind-address", "0")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--max-peers-per-family=-1: must be between 1 and 2000") {
		t.Fatalf("agent with --max-peers-per-family=-1: %v: %s", err, out)
	}
}
