package main

import (
	"os"
	"runtime"
	"strings"
)

// machine describes where the numbers were measured.
type machine struct {
	NProc    int    `json:"nproc"`
	CPUModel string `json:"cpuModel"`
	Kernel   string `json:"kernel"`
}

func readMachine() machine {
	m := machine{NProc: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
