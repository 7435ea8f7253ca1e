#!/usr/bin/env bash
# Generates the typed clientset, listers and informers of api/v3 into pkg/generated with
# k8s.io/code-generator's generators, pinned in hack/tools/go.mod at the version of the k8s.io/* modules in
# go.mod. No apply configurations (applyconfiguration-gen): nothing here uses server-side apply, and with
# them the typed client imports client-go's meta/v1 apply configurations, which link client-go's discovery
# and with it every built-in API group: +8.8 MiB of RSS for the agent (docs/benchmarks.md, "Memory"). The output directory is removed first so nothing stale survives a type's removal;
# the generators' output depends only on api/v3 and their version, so a second run changes nothing.
# Usage: hack/codegen.sh BINDIR (where the generators are built).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:?usage: hack/codegen.sh BINDIR}
cd "$root"
mkdir -p "$bin"
bin=$(cd "$bin" && pwd)
module=$(go list -m)
out=pkg/generated
pkg=$module/$out
header=hack/boilerplate.go.txt
# The same module graph whatever the caller's environment: no workspace, go.mod never rewritten.
export GOWORK=off GOFLAGS=-mod=readonly

(cd hack/tools && for g in client-gen lister-gen informer-gen; do
	go build -o "$bin/$g" "k8s.io/code-generator/cmd/$g"
done)

# Keep doc.go (written by hand: why the package is public); everything else is regenerated.
keep=$(mktemp)
trap 'rm -f "$keep"' EXIT
cp "$out/doc.go" "$keep"
rm -rf "$out"
mkdir -p "$out"
cp "$keep" "$out/doc.go"

"$bin/client-gen" --go-header-file "$header" \
	--output-dir "$out/clientset" --output-pkg "$pkg/clientset" --clientset-name versioned \
	--input-base "$module" --input api/v3
"$bin/lister-gen" --go-header-file "$header" \
	--output-dir "$out/listers" --output-pkg "$pkg/listers" \
	"$module/api/v3"
"$bin/informer-gen" --go-header-file "$header" \
	--output-dir "$out/informers" --output-pkg "$pkg/informers" \
	--versioned-clientset-package "$pkg/clientset/versioned" --listers-package "$pkg/listers" \
	"$module/api/v3"
