// Package bird reads a BIRD routing daemon (1.6 or 2.x) over its control socket: transport (Unix socket
// with deadlines and a reply-size cap), framing of BIRD's numbered reply lines, an allowlist of read-only
// commands, and one parser per command and major version into a typed Snapshot. It knows nothing of
// Kubernetes.
package bird
