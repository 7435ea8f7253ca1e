// Package e2e is the end-to-end tier: a real control plane (internal/testenv: kube-apiserver + etcd), a
// real BIRD lab in network namespaces (test/lab: BIRD 1.6 or 2.x, a ToR, gobgpd) and one agent process
// (cmd/calico-node-status-agent, built once per test binary) per lab node, talking to each other only
// over loopback and the lab's sockets. Objects are applied with the built kubectl; what the agents write is
// compared with what BIRD prints at that moment. It needs root and the lab's binaries (skips locally
// without them, fails under CI=true); all of it is in _test.go files.
package e2e
