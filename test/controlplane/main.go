// Command controlplane runs the same real control plane the tests use (internal/testenv: kube-apiserver +
// etcd from pinned modules, RBAC on, the CRD installed) until it receives SIGINT or SIGTERM, for humans and
// the demo. hack/controlplane/up.sh starts it in the background and prints the kubeconfig path.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

func main() {
	stateDir := flag.String("state-dir", "/tmp/cns-controlplane", "directory for the kubeconfig and pid file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*stateDir, log); err != nil {
		log.Error("control plane failed", "err", err)
		os.Exit(1)
	}
}

func run(stateDir string, log *slog.Logger) error {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	env, err := testenv.Start(testenv.Options{WorkDir: stateDir})
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			log.Error("stop", "err", err)
		}
		_ = os.Remove(filepath.Join(stateDir, "ready"))
	}()
	// Written last: its presence tells up.sh that the API server serves the CRD.
	if err := os.WriteFile(filepath.Join(stateDir, "ready"), []byte(env.Kubeconfig+"\n"), 0o644); err != nil {
		return fmt.Errorf("write ready marker: %w", err)
	}
	log.Info("control plane up", "kubeconfig", env.Kubeconfig, "host", env.Config.Host, "binaries", env.BinDir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	log.Info("stopping: kube-apiserver first, then etcd")
	return nil
}
