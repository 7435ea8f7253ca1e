# Two commands matter on a fresh Debian machine with Go: `make demo` and `make test`. See README.md.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

CNS_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/calico-node-status
export CNS_CACHE_DIR
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN := $(LOCALBIN)/controller-gen
GO_TEST_FLAGS ?= -race -count=1
FUZZTIME ?= 10m

.PHONY: all
all: build

## Code generation -----------------------------------------------------------------------------------------

$(CONTROLLER_GEN): hack/tools/go.mod hack/tools/go.sum
	@mkdir -p $(LOCALBIN)
	cd hack/tools && go build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy and the CRD from api/v3.
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases

.PHONY: verify
verify: ## Generated files match api/v3; gofmt; go vet.
	@hack/verify-generated.sh
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); test -z "$$out" || { echo "verify: gofmt needed on: $$out" >&2; exit 1; }
	go vet ./...

## Build ---------------------------------------------------------------------------------------------------

.PHONY: build
build:
	@mkdir -p $(LOCALBIN)
	go build -o $(LOCALBIN)/ ./cmd/...

.PHONY: controlplane
controlplane: ## Build (or reuse) kube-apiserver, etcd and kubectl into $(CNS_CACHE_DIR).
	@hack/controlplane/build.sh >/dev/null

.PHONY: controlplane-up
controlplane-up: controlplane ## Start a local control plane for humans; prints the kubeconfig path.
	@hack/controlplane/up.sh

.PHONY: controlplane-down
controlplane-down:
	@hack/controlplane/down.sh

## Tests ---------------------------------------------------------------------------------------------------

.PHONY: prereqs
prereqs: ## Install what the tests need (apt packages for the lab; the control plane binaries).
	@hack/prereqs.sh

.PHONY: test
test: prereqs controlplane calico-fixtures-if-available verify ## All tiers: unit, API (real kube-apiserver+etcd), lab (real BIRD), e2e.
	KUBEBUILDER_ASSETS=$$(hack/controlplane/build.sh) go test $(GO_TEST_FLAGS) -timeout 40m ./...

.PHONY: fuzz
fuzz: ## Long fuzzing runs: every fuzz target for FUZZTIME (10m) each; see docs/fuzzing.md.
	@hack/fuzz.sh $(FUZZTIME)

# Calico's own manifests (CRDs, its API server's APIService) for the API tier's "beside Calico" cases,
# extracted from a projectcalico/calico git clone into $(CNS_CACHE_DIR)/calico-fixtures/$(CALICO_VERSION).
CALICO_VERSION ?= v3.32.1
CALICO_SRC ?= $(firstword $(wildcard /work/.mirror/projectcalico+calico/repo))

.PHONY: calico-fixtures
calico-fixtures: ## Extract Calico's manifests of CALICO_VERSION from CALICO_SRC (a projectcalico/calico git clone) into the cache.
	@hack/calico-fixtures.sh "$(CALICO_SRC)" "$(CALICO_VERSION)"

.PHONY: calico-fixtures-if-available
calico-fixtures-if-available:
	@hack/calico-fixtures.sh --if-available "$(CALICO_SRC)" "$(CALICO_VERSION)"

## Demo ----------------------------------------------------------------------------------------------------

.PHONY: demo
demo: ## As root: control plane, 3-node BIRD lab, one agent per node, the contract's example; stays running.
	@hack/demo/demo.sh

.PHONY: demo-down
demo-down: ## As root: stop and remove everything `make demo` started (agents, BIRD lab, control plane, state).
	@hack/demo/demo-down.sh

.PHONY: clean
clean:
	rm -rf $(LOCALBIN)

## Captures (owned by the lab) ------------------------------------------------------------------------------

.PHONY: capture
capture: prereqs ## Re-capture raw BIRD 1.6/2 replies into internal/bird/testdata/captures (root).
	test/lab/capture.sh

## Benchmark (owned by test/bench) --------------------------------------------------------------------------

BENCH_FLAGS ?=
.PHONY: bench
bench: controlplane ## Our agent vs an original-style baseline on an 11-node BIRD lab, same run (root; see docs/benchmarks.md). BENCH_FLAGS=--quick for a smoke run.
	go run ./test/bench $(BENCH_FLAGS)

.PHONY: bench-retry
bench-retry: controlplane ## 20 agents, node with peers nobody answers vs all healthy: writes/object/hour, API server + etcd CPU above idle (root; docs/benchmarks.md). BENCH_FLAGS=--quick for a smoke run.
	go run ./test/bench --retry $(BENCH_FLAGS)

.PHONY: bench-fleet
bench-fleet: controlplane ## Fleet benchmark: N hollow nodes running the real agent code against kube-apiserver + etcd (docs/benchmarks.md). BENCH_FLAGS e.g. --nodes 10,100,1000 --window 60s; --quick for a smoke run.
	KUBEBUILDER_ASSETS=$$(hack/controlplane/build.sh) flock /tmp/cns-lab.lock go run ./test/fleet/cmd/bench-fleet $(BENCH_FLAGS)
