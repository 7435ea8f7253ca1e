// Package testenv starts a real local Kubernetes control plane (kube-apiserver + etcd built from pinned Go
// modules by hack/controlplane/build.sh) through controller-runtime's envtest, with RBAC authorization on
// and the CalicoNodeStatus CRD from config/crd installed. Tests and the demo's control plane use it; it
// hands out an admin client, users with chosen permissions, a kubeconfig and the built kubectl.
package testenv
