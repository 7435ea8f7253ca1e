// Package image tests the agent's OCI image that `make image` builds: its contents and its agreement with
// the Dockerfile and the DaemonSet (unit tier), and the image running under a real OCI runtime, runc,
// exactly as config/agent/daemonset.yaml runs it, against a real BIRD and a real API server (tier
// "runtime": root, runc, the lab; TestRuntime_...).
package image
