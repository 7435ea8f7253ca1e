// Package membench measures the agent's memory against real BIRD daemons with 10k, 100k and 1M routes
// (BenchmarkRealBIRDMemory, root): the collection in a process of its own (test/memprobe) against the
// bare socket read of the same run, and the agent binary itself against an API server. Results:
// docs/benchmarks.md, "Memory".
package membench
