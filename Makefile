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
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy, the CRD and the typed client (pkg/generated) from api/v3, the agent's ClusterRoles from +kubebuilder:rbac markers.
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	cp config/crd/bases/projectcalico.org_caliconodestatuses.yaml charts/calico-node-status/crds/
	@# One ClusterRole per run (controller-gen merges the markers of all paths): the agent's from internal/agent
	@# alone (no /...), the optional --ensure-own-object one from its own package.
	$(CONTROLLER_GEN) rbac:roleName=calico-node-status-agent,fileName=cluster_role.yaml,headerFile=hack/rbac/agent.header.txt \
		paths=./internal/agent output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=calico-node-status-agent-ensure-own-object,fileName=cluster_role.yaml,headerFile=hack/rbac/ensure-own-object.header.txt \
		paths=./internal/agent/ownobject output:rbac:artifacts:config=config/rbac/ensure-own-object
	cp config/rbac/cluster_role.yaml charts/calico-node-status/files/rbac/agent-cluster-role.yaml
	cp config/rbac/ensure-own-object/cluster_role.yaml charts/calico-node-status/files/rbac/ensure-own-object-cluster-role.yaml
	cp config/monitoring/rules/calico-node-status.rules.yaml config/monitoring/grafana-dashboard.json charts/calico-node-status/files/
	hack/codegen.sh $(LOCALBIN)

.PHONY: verify
verify: ## Generated files match api/v3 and the RBAC markers; gofmt; go vet.
	@hack/verify-generated.sh
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); test -z "$$out" || { echo "verify: gofmt needed on: $$out" >&2; exit 1; }
	go vet ./...

## Build ---------------------------------------------------------------------------------------------------

.PHONY: build
build:
	@mkdir -p $(LOCALBIN)
	go build -o $(LOCALBIN)/ ./cmd/...

OUTPUT ?= $(CURDIR)/_output
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64

.PHONY: image
image: ## The agent's multi-arch OCI image, no daemon or registry needed: $(OUTPUT)/image/{oci/,calico-node-status-agent.oci.tar}.
	@hack/image/build.sh --out $(OUTPUT)/image --platforms $(IMAGE_PLATFORMS) $(if $(IMAGE_TAG),--tag $(IMAGE_TAG))

.PHONY: image-push
image-push: ## Push the image built by `make image` to IMAGE (registry/repository:tag; docker's credentials).
	@test -n "$(IMAGE)" || { echo "image-push: set IMAGE=registry/repository:tag" >&2; exit 2; }
	@test -d $(OUTPUT)/image/oci || { echo "image-push: run make image first" >&2; exit 2; }
	cd hack/image && go run . push --layout $(OUTPUT)/image/oci --to $(IMAGE)

DIST ?= $(CURDIR)/dist

.PHONY: release
release: ## The CLI for linux/darwin amd64/arm64 as krew archives in $(DIST), with checksums and the krew manifest $(DIST)/plugins/calico-node-status.yaml.
	@{ read -r v; read -r c; } < <(hack/version.sh); \
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct)} go run ./hack/release --dist $(DIST) --version $$v --commit $$c

.PHONY: controlplane
controlplane: ## Build (or reuse) kube-apiserver, etcd and kubectl into $(CNS_CACHE_DIR).
	@hack/controlplane/build.sh >/dev/null

.PHONY: promtool
promtool: ## Build (or reuse) Prometheus's promtool from hack/tools/promtool into $(CNS_CACHE_DIR)/bin (checks config/monitoring).
	@hack/tools/promtool/build.sh >/dev/null
.PHONY: node-binaries
node-binaries: ## Also build kubelet, kube-controller-manager and kube-scheduler (the node test's single-node cluster).
	@hack/controlplane/build.sh --node >/dev/null

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
test: prereqs controlplane node-binaries promtool calico-fixtures-if-available verify ## All tiers: unit, API (real kube-apiserver+etcd), lab (real BIRD), e2e, runtime (runc), node (kubelet+containerd), helm, monitoring (promtool).
	KUBEBUILDER_ASSETS=$$(hack/controlplane/build.sh --node) go test $(GO_TEST_FLAGS) -timeout 40m ./...
	cd hack/image && go test $(GO_TEST_FLAGS) ./...

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
	rm -rf $(LOCALBIN) $(OUTPUT) $(DIST)

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

.PHONY: bench-writes
bench-writes: controlplane ## API server + etcd CPU per status write: PUT vs merge patch vs apply, by object size and idle watchers (docs/benchmarks.md). BENCH_FLAGS e.g. --watchers 0,1000 --writes 150 --repeats 3; --quick for a smoke run.
	KUBEBUILDER_ASSETS=$$(hack/controlplane/build.sh) flock /tmp/cns-lab.lock go run ./test/fleet/cmd/bench-writes $(BENCH_FLAGS)
