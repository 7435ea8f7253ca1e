// Command pause is the sandbox ("pause") container of the node test's pods: it holds the pod's namespaces
// and does nothing until it is told to stop. As PID 1 of a pod with a shared PID namespace it also reaps
// orphaned children, as Kubernetes' own pause does. Built static (CGO_ENABLED=0) into an image by
// hack/image, so the node test needs no image from a registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			// Reap every exited child; stop when none is left to reap now.
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
