// Package demo is the end-to-end test of `make demo` (hack/demo): as root on Linux it runs the demo with
// a private lab name, state directory and ports, checks what it prints against the lab it built, runs it
// a second time (idempotent), then `make demo-down`, and checks that no namespace, link or process is
// left. It skips without root and fails under CI=true.
package demo
