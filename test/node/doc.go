// Package node is the node tier (TestNode_...): config/ applied to a single-node cluster built from the
// pinned modules and Debian packages (kube-apiserver, etcd, kube-controller-manager, kube-scheduler,
// kubelet, containerd, a sandbox image built here), the agent's image imported into containerd and run by
// the kubelet on a lab node's BIRD. Root; runs the lab, so humans run it under flock /tmp/cns-lab.lock.
package node
