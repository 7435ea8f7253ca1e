package main

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

func TestMemoryLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, c := range []struct {
		name     string
		fs       fstest.MapFS
		want     int64
		wantFrom string
	}{
		{"v2 in a container (cgroup namespace: own cgroup at the root)", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("67108864\n"),
		}, 64 << 20, "/sys/fs/cgroup/memory.max"},
		{"v2 on a host view: the smallest of the cgroup and its ancestors", fstest.MapFS{
			"proc/self/cgroup": file("0::/kubepods/burstable/pod1/ctr\n"),
			"sys/fs/cgroup/kubepods/burstable/pod1/ctr/memory.max": file("max\n"),
			"sys/fs/cgroup/kubepods/burstable/pod1/memory.max":     file("134217728\n"),
			"sys/fs/cgroup/kubepods/memory.max":                    file("1073741824\n"),
		}, 128 << 20, "/sys/fs/cgroup/kubepods/burstable/pod1/memory.max"},
		{"v2 without a limit", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("max\n"),
		}, 0, ""},
		{"v1 (hybrid: v2 line without memory controller)", fstest.MapFS{
			"proc/self/cgroup":                                             file("9:pids:/\n4:memory:/kubepods/pod1/ctr\n1:name=systemd:/\n0::/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":                   file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.limit_in_bytes": file("67108864\n"),
		}, 64 << 20, "/sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.limit_in_bytes"},
		{"v1 unlimited", fstest.MapFS{
			"proc/self/cgroup":                           file("4:cpu,memory:/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
		}, 0, ""},
		{"no /proc", fstest.MapFS{}, 0, ""},
	} {
		got, from := memoryLimit(c.fs)
		if got != c.want || from != c.wantFrom {
			t.Errorf("%s: %d from %q, want %d from %q", c.name, got, from, c.want, c.wantFrom)
		}
	}
}

func validOptions() options {
	return options{nodeName: "n", birdTimeout: 10 * time.Second, heartbeat: v3.DefaultHeartbeat,
		maxRoutes: v3.DefaultMaxRoutesPerFamily, maxRouteBytes: v3.DefaultMaxRouteBytesPerFamily,
		maxPeers: v3.DefaultMaxPeersPerFamily, maxStatusBytes: v3.DefaultMaxStatusBytes,
		memoryLimit: "auto", maxReplyBytes: "auto", maxRouteReplyBytes: "1Gi"}
}

// TestCapsRefusedAtStart: a negative cap, or one beyond what the CRD accepts, is refused with the flag
// named (a status over the CRD's bounds would be refused by the API server every period).
func TestCapsRefusedAtStart(t *testing.T) {
	if err := validOptions().validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for flag, set := range map[string]func(*options){
		"--max-routes-per-family=-1":      func(o *options) { o.maxRoutes = -1 },
		"--max-routes-per-family=5001":    func(o *options) { o.maxRoutes = 5001 },
		"--max-peers-per-family=-1":       func(o *options) { o.maxPeers = -1 },
		"--max-peers-per-family=0":        func(o *options) { o.maxPeers = 0 },
		"--max-route-bytes-per-family=-1": func(o *options) { o.maxRouteBytes = -1 },
		"--max-status-bytes=-1":           func(o *options) { o.maxStatusBytes = -1 },
	} {
		o := validOptions()
		set(&o)
		err := o.validate()
		if err == nil || !strings.Contains(err.Error(), flag+":") || !strings.Contains(err.Error(), "must be between") {
			t.Errorf("%s: %v, want an error naming the flag and the range", flag, err)
		}
	}
}

func TestSizing(t *testing.T) {
	fs := fstest.MapFS{"proc/self/cgroup": {Data: []byte("0::/\n")}, "sys/fs/cgroup/memory.max": {Data: []byte("67108864")}}
	noEnv := func(string) string { return "" }
	sz, err := validOptions().size(fs, noEnv)
	if err != nil || sz.memoryLimit != 64<<20 || sz.gomemlimit != 64<<20*85/100 || sz.replyCap != 16<<20 || sz.routesReplyCap != 1<<30 {
		t.Fatalf("64 MiB container: %+v, %v", sz, err)
	}
	// $GOMEMLIMIT set by the operator wins.
	sz, _ = validOptions().size(fs, func(k string) string { return map[string]string{"GOMEMLIMIT": "40MiB"}[k] })
	if sz.gomemlimit != 0 {
		t.Fatalf("GOMEMLIMIT overridden: %+v", sz)
	}
	// Flags override the detection and the derived cap.
	o := validOptions()
	o.memoryLimit, o.maxReplyBytes = "256Mi", "8Mi"
	if sz, err = o.size(fs, noEnv); err != nil || sz.memoryLimit != 256<<20 || sz.gomemlimit != 256<<20*85/100 || sz.replyCap != 8<<20 {
		t.Fatalf("--memory-limit=256Mi --max-reply-bytes=8Mi: %+v, %v", sz, err)
	}
	o.memoryLimit = "none"
	if sz, err = o.size(fs, noEnv); err != nil || sz.memoryLimit != 0 || sz.gomemlimit != 0 {
		t.Fatalf("--memory-limit=none: %+v, %v", sz, err)
	}
	for _, bad := range []func(*options){
		func(o *options) { o.memoryLimit = "-5" },
		func(o *options) { o.maxReplyBytes = "1k" },
		func(o *options) { o.maxRouteReplyBytes = "lots" },
	} {
		o := validOptions()
		bad(&o)
		if _, err := o.size(fs, noEnv); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if replyCapFor(0) != 64<<20 || replyCapFor(8<<20) != 4<<20 || replyCapFor(1<<30) != 64<<20 {
		t.Fatal("replyCapFor bounds")
	}
}
