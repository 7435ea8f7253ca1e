// Package mesh compares the BGP sessions a cluster should have with what each end of every session
// reports, so an incomplete or one-sided node-to-node mesh is found in one look instead of node by node.
//
// It is pure: nodes (names and addresses) and what each node's agent last reported in, a Result out.
//
// Expected sessions:
//   - the node-to-node mesh, per address family: every pair of nodes with an address in the family, once
//     any node reports a NodeMesh session in that family (a cluster without the mesh, e.g. with route
//     reflectors only, has none reported, and no pair is expected);
//   - every explicit peer (NodePeer, GlobalPeer) a node reports: when the peer's address is another node's,
//     it is a pair of nodes and both ends are compared; otherwise an external peer, judged by its one end.
//
// A node's addresses are those the caller gives (Node.status.addresses InternalIP, Calico's
// projectcalico.org/IPv4Address and IPv6Address annotations: see NodeAddresses) and its BIRD router IDs.
//
// Each end of a pair of nodes is Established, listed but not Established, not listed, or not reported (no
// usable status from that node). Verdicts (Verdict) follow from the two ends; every verdict but Up and
// Unknown is broken, and a broken pair carries what each end says (state and BIRD's reason).
package mesh
