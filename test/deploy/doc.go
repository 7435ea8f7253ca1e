// Package deploy holds the API-tier tests of the deployable manifests in config/ and of the CLI against a
// real kube-apiserver + etcd (internal/testenv): the kustomization applies (server dry run, then for
// real), the agent's service account has exactly its least privilege, the node isolation policy stops an
// agent from writing another node's status, and the calico-node-status CLI reads, creates and watches
// objects. One lab-tier test checks, with a real BIRD as root, the socket access the DaemonSet relies on.
package deploy
