package procstat

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

// TestReadSelf: this process has used CPU and holds memory, and the nanosecond count agrees with the
// ticks to within their 10 ms resolution and the time between the two reads.
func TestReadSelf(t *testing.T) {
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // burn some CPU so that utime moves past a tick
	}
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUTicks == 0 || s.CPUNanos == 0 || s.RSS == 0 || s.HWM < s.RSS || s.RSSAnon+s.RSSFile == 0 {
		t.Fatalf("sample %+v: want CPU time, RSS, a peak at least RSS and its split", s)
	}
	if d := s.CPUSeconds() - float64(s.CPUNanos)/1e9; d > 0.5 || d < -0.5 {
		t.Errorf("ticks say %.2fs, schedstat %.2fs", s.CPUSeconds(), float64(s.CPUNanos)/1e9)
	}
	cpu, err := CPU([]int{os.Getpid(), os.Getpid()})
	if err != nil || cpu < 2*time.Duration(s.CPUNanos) {
		t.Errorf("CPU of this process twice = %v, %v; want at least twice %v", cpu, err, time.Duration(s.CPUNanos))
	}
}

func TestReadGoneProcess(t *testing.T) {
	if _, err := Read(1 << 30); err == nil {
		t.Fatal("Read of a pid that cannot exist: no error")
	}
}

// TestChildrenNamed finds a child started here by its command name and not a process of another parent.
func TestChildrenNamed(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	prereq.Require(t, err == nil, "the sleep binary", "install coreutils")
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pids, err := ChildrenNamed("sleep")
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("ChildrenNamed(sleep) = %v, %v; want it to hold %d", pids, err, cmd.Process.Pid)
	}
	if pids, _ := ChildrenNamed("init"); len(pids) != 0 {
		t.Fatalf("ChildrenNamed(init) = %v: init is nobody's child here", pids)
	}
}

func TestSplitStat(t *testing.T) {
	comm, f, ok := splitStat([]byte("42 (a (b) c) S 1 42 42 0"))
	if !ok || comm != "a (b) c" || len(f) != 5 || f[0] != "S" || f[1] != "1" {
		t.Fatalf("splitStat = %q %q %v", comm, f, ok)
	}
	if _, _, ok := splitStat([]byte("42 a S")); ok {
		t.Fatal("splitStat of a line without parentheses: ok")
	}
}

func TestStatusFields(t *testing.T) {
	m, err := StatusFields(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m["Pid"] != strconv.Itoa(os.Getpid()) || !strings.HasSuffix(m["VmRSS"], " kB") {
		t.Fatalf("Pid %q, VmRSS %q: want this process's pid and a size in kB", m["Pid"], m["VmRSS"])
	}
}
