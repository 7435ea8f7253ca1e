// Package procstat reads what the benches measure of a process from Linux's /proc: CPU time (utime+stime
// and, at nanosecond resolution, the threads' schedstat), resident memory (VmRSS, VmHWM and its anon/file
// split), and the pids of this process's children by command name (envtest's kube-apiserver and etcd).
// test/bench, test/fleet, test/membench and test/memprobe share it.
package procstat
