// Command bench (test/bench, `make bench`) measures our agent against a baseline that collects the way
// Calico's original node/pkg/status does (test/bench/original), side by side in the same run: a real
// control plane (internal/testenv), a real BIRD lab (test/lab, 11 nodes by default, node1 measured), both
// processes reading node1's BIRD through counting proxies, for a fixed number of periods. It prints, per
// process, CPU seconds per period and % of a vCPU (utime+stime from /proc), final and peak RSS, status
// writes (resourceVersion changes seen through a watch), BIRD connections and commands, and ratios
// ours/original; then the project's targets as met or missed. It fails only on errors. It needs root.
//
// With --retry (`make bench-retry`, retry.go) it measures instead what peers that are down and retrying cost:
// N agent processes, each with its own node name and object, reading node1's BIRD first with peers nobody
// answers added (birdconf.go), then with every session that is not Established removed; it reports status
// writes per object per hour and kube-apiserver + etcd CPU above idle for both, and their ratio.
//
// See docs/benchmarks.md for how to run it and the results.
package main
