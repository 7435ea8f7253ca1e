package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// The agent sizes itself from its container's memory limit: GOMEMLIMIT at about 85 % of it (the Go heap
// then collects harder before the kernel kills the process, and the rest is left for the runtime's own
// memory, stacks and the binary), and the cap on the BIRD replies it holds at a quarter of it.

// gomemlimitPercent is the share of the container's limit given to the Go runtime as GOMEMLIMIT.
const gomemlimitPercent = 85

// unlimited is what cgroup v1 reports for "no limit" (a page-rounded MaxInt64); anything this large is
// no limit.
const unlimited = int64(1) << 62

// memoryLimit finds the memory limit of the cgroup this process runs in, from a file system rooted at /
// (os.DirFS("/") in production). It reads /proc/self/cgroup, then cgroup v2's memory.max or v1's
// memory.limit_in_bytes of that cgroup and of its ancestors (the smallest applies), under
// /sys/fs/cgroup. In a container the cgroup namespace makes the container's own cgroup the root of the
// mount, so the root's file is read too. limit is 0 when there is none; from says which file gave it.
func memoryLimit(fsys fs.FS) (limit int64, from string) {
	data, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return 0, ""
	}
	var dirs []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// "0::/kubepods/pod.../cri-containerd-..." (v2), "4:memory:/kubepods/..." (v1).
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			for _, root := range []string{"sys/fs/cgroup", "sys/fs/cgroup/unified"} {
				dirs = append(dirs, candidates(root, parts[2], "memory.max")...)
			}
		case hasController(parts[1], "memory"):
			dirs = append(dirs, candidates("sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")...)
		}
	}
	for _, file := range dirs {
		b, err := fs.ReadFile(fsys, file)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= unlimited {
			continue
		}
		if limit == 0 || n < limit {
			limit, from = n, "/"+file
		}
	}
	return limit, from
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// candidates lists file in the cgroup directory p under root and in each of its ancestors up to root.
func candidates(root, p, file string) []string {
	var out []string
	p = path.Clean("/" + p)
	for {
		out = append(out, path.Join(root, p, file))
		if p == "/" {
			return out
		}
		p = path.Dir(p)
	}
}

// replyCapFor is the default cap on a BIRD reply the agent holds while parsing it (status, protocols; a
// routes reply is streamed and capped apart): a quarter of the memory limit, within [4 MiB, 64 MiB].
func replyCapFor(limit int64) int64 {
	const lo, hi = 4 << 20, 64 << 20
	if limit <= 0 {
		return hi
	}
	return min(max(limit/4, lo), hi)
}

// parseBytes reads a size: a number of bytes, or with a suffix Ki, Mi, Gi (powers of 1024) or k, M, G.
func parseBytes(orig string) (int64, error) {
	s, mult := orig, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size in bytes (a number, optionally with Ki, Mi, Gi)", orig)
	}
	return n * mult, nil
}
