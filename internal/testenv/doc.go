// Package testenv holds the test support of every tier: Eventually (eventually.go, the one poller),
// prereq (skip locally or fail under CI=true when a prerequisite is missing), procstat (CPU and memory of a
// process from /proc), small helpers several tiers share (support.go: a buffer read while written, a free
// loopback port, an HTTP GET, the check of a status from a lab node's BIRD), and a real local Kubernetes
// control plane (kube-apiserver + etcd built from pinned Go modules by hack/controlplane/build.sh) started
// through controller-runtime's envtest, with RBAC authorization on and the CalicoNodeStatus CRD from
// config/crd installed. Tests and the demo's control plane use it; it hands out admin clients (the
// generated clientset of CalicoNodeStatus, client-go's of the built-in APIs and its dynamic client for
// objects of any kind; controller-runtime's client only for the test/ tiers written against it), users with chosen permissions, a kubeconfig and the built
// kubectl.
package testenv
