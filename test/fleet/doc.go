// Package fleet is the fleet benchmark (issue 13, `make bench-fleet`): kubemark-style hollow nodes, N
// agents in one process, each the real agent code (agent.NewKubeStore with its own client, TCP
// connection, field-selected watch and informer; agent.NewReconciler; agent.NewController) reading its own
// fake BIRD 1.6 daemons (two unix sockets replaying the captures of stock 1.6.8 and Calico's fork, with
// scripted churn: peer flaps, route changes, peers retrying) against a real kube-apiserver + etcd
// (internal/testenv). It measures the control plane's CPU above idle (schedstat), writes/s (a watch),
// status PUT latency and HTTP 429s (a wrapper around every agent's transport), the API server's RSS, the
// time until every agent watches after a simultaneous start and after an API server restart, and the
// fleet's memory per agent. The agents authenticate as the DaemonSet's service account, so config/rbac
// and config/apf (the agents' APF flow schema) are what is measured too. The original's pattern
// (a full write every tick, every node watching every object) runs as the baseline. The objects have the
// managed classes (Agent, BGP) unless told otherwise, and can be created with the status their agents
// would write (PreWritten).
//
// RunWrites (`make bench-writes`) measures the control plane's CPU per status write by method (full PUT,
// merge patch, server-side apply), object size and number of idle field-selected watchers. See
// docs/benchmarks.md.
package fleet
