package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// UserHZ is the unit of utime/stime in /proc/<pid>/stat. Linux exports these in USER_HZ, which is 100 on
// every architecture Go supports on Linux (the kernel converts from its internal HZ).
const UserHZ = 100

// Memory is what /proc/<pid>/status says of a process's resident memory, in bytes.
type Memory struct {
	RSS uint64 // VmRSS
	HWM uint64 // VmHWM (peak RSS)
	// RSSAnon and RSSFile split VmRSS: heap, stacks and runtime (anon) vs pages of the mapped binary and
	// libraries (file), which a smaller binary shrinks.
	RSSAnon, RSSFile uint64
}

// Sample is one reading of a process.
type Sample struct {
	CPUTicks uint64 // utime + stime, in 1/UserHZ s
	// CPUNanos is the sum over the process's threads of the time on CPU from /proc/<pid>/task/*/schedstat:
	// nanosecond resolution where utime+stime has 10 ms (threads that exit take their share with them;
	// Go runtime threads live as long as the process).
	CPUNanos uint64
	Memory
}

// CPUSeconds is utime+stime in seconds.
func (s Sample) CPUSeconds() float64 { return float64(s.CPUTicks) / UserHZ }

// Read reads utime+stime from /proc/<pid>/stat, the threads' schedstat and the memory from
// /proc/<pid>/status.
func Read(pid int) (Sample, error) {
	var s Sample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
	}
	_, f, ok := splitStat(stat)
	// After ')': state(3) ppid(4) ... utime(14) stime(15): indexes 11 and 12 here.
	if !ok {
		return s, fmt.Errorf("parse /proc/%d/stat: no ')' after the command name", pid)
	}
	if len(f) < 13 {
		return s, fmt.Errorf("parse /proc/%d/stat: %d fields after the command name, want at least 13", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("parse utime/stime %q %q of /proc/%d/stat", f[11], f[12], pid)
	}
	s.CPUTicks = ut + st
	if s.CPUNanos, err = SchedstatNanos(pid); err != nil {
		return s, err
	}
	s.Memory, err = ReadMemory(pid)
	return s, err
}

// ReadMemory reads VmRSS, VmHWM, RssAnon and RssFile from /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	var m Memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for n := 1; sc.Scan(); n++ {
		key, val, ok := strings.Cut(sc.Text(), ":")
		var dst *uint64
		switch key {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		case "RssAnon":
			dst = &m.RSSAnon
		case "RssFile":
			dst = &m.RSSFile
		}
		if !ok || dst == nil {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("parse /proc/%d/status line %d %q: %w", pid, n, sc.Text(), err)
		}
		*dst = kb * 1024
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

// SchedstatNanos is the time on CPU of the process's threads, from /proc/<pid>/task/*/schedstat.
func SchedstatNanos(pid int) (uint64, error) {
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

// CPU is the time on CPU (schedstat) of the processes pids together.
func CPU(pids []int) (time.Duration, error) {
	var sum uint64
	for _, pid := range pids {
		n, err := SchedstatNanos(pid)
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return time.Duration(sum), nil
}

// ChildrenNamed returns the pids of this process's children whose command name (comm) is name: envtest
// starts kube-apiserver and etcd as direct children (after a restart too).
func ChildrenNamed(name string) ([]int, error) {
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
		comm, f, ok := splitStat(stat)
		if !ok || len(f) < 2 || comm != name {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == self {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// splitStat splits /proc/<pid>/stat into the command name and the fields after it. The name (field 2) is
// in parentheses and may hold spaces and parentheses: the fields start after the last ')'.
func splitStat(stat []byte) (comm string, fields []string, ok bool) {
	open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return "", nil, false
	}
	return string(stat[open+1 : closing]), strings.Fields(string(stat[closing+1:])), true
}

// StatusFields returns every "key: value" line of /proc/<pid>/status, the value trimmed.
func StatusFields(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("read /proc/%d/status: %w", pid, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}
