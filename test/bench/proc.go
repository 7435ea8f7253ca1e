package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// userHZ is the unit of utime/stime in /proc/<pid>/stat. Linux exports these in USER_HZ, which is 100 on
// every architecture Go supports on Linux (the kernel converts from its internal HZ).
const userHZ = 100

// procSample is one reading of a process from /proc.
type procSample struct {
	CPUTicks uint64 // utime + stime, in 1/userHZ s
	// CPUNanos is the sum over the process's threads of the time on CPU from /proc/<pid>/task/*/schedstat:
	// nanosecond resolution where utime+stime has 10 ms (threads that exit take their share with them;
	// Go runtime threads live as long as the process).
	CPUNanos uint64
	RSS      uint64 // VmRSS, bytes
	HWM      uint64 // VmHWM (peak RSS), bytes
	// RSSAnon and RSSFile split VmRSS: heap, stacks and runtime (anon) vs pages of the mapped binary and
	// libraries (file), which a smaller binary shrinks.
	RSSAnon, RSSFile uint64
}

func (s procSample) cpuSeconds() float64 { return float64(s.CPUTicks) / userHZ }

// readProc reads utime+stime from /proc/<pid>/stat and VmRSS/VmHWM from /proc/<pid>/status.
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces: fields are counted after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("parse /proc/%d/stat: no ')' after the command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	// After ')': state(3) ppid(4) ... utime(14) stime(15): indexes 11 and 12 here.
	if len(f) < 13 {
		return s, fmt.Errorf("parse /proc/%d/stat: %d fields after the command name, want at least 13", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("parse utime/stime %q %q of /proc/%d/stat", f[11], f[12], pid)
	}
	s.CPUTicks = ut + st
	if s.CPUNanos, err = schedstatNanos(pid); err != nil {
		return s, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for n := 1; sc.Scan(); n++ {
		key, val, ok := strings.Cut(sc.Text(), ":")
		var dst *uint64
		switch key {
		case "VmRSS":
			dst = &s.RSS
		case "VmHWM":
			dst = &s.HWM
		case "RssAnon":
			dst = &s.RSSAnon
		case "RssFile":
			dst = &s.RSSFile
		}
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return s, fmt.Errorf("parse /proc/%d/status line %d %q: %w", pid, n, sc.Text(), err)
		}
		*dst = kb * 1024
	}
	return s, nil
}

func schedstatNanos(pid int) (uint64, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("list /proc/%d/task/*/schedstat: %v (%d files)", pid, err, len(files))
	}
	var sum uint64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited meanwhile
		}
		fields := strings.Fields(string(b))
		if len(fields) < 1 {
			return 0, fmt.Errorf("parse %s: empty", f)
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", f, err)
		}
		sum += n
	}
	return sum, nil
}

// childrenNamed returns the pids of this process's children whose command name (comm) is name: envtest
// starts kube-apiserver and etcd as direct children.
func childrenNamed(name string) ([]int, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	self := os.Getpid()
	var pids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || closing < open {
			continue
		}
		f := strings.Fields(string(stat[closing+1:]))
		if len(f) < 2 || string(stat[open+1:closing]) != name {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == self {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

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
