#!/usr/bin/env bash
# Regenerates (make generate) deepcopy, the CRD and the typed client (pkg/generated) from api/v3, the
# ClusterRoles in config/rbac from the +kubebuilder:rbac markers in internal/agent, and the chart's copies
# of them, and fails when the result differs from the files in the working tree, naming them. Works with
# uncommitted changes: it compares against the tree, not git. Also fails when code-generator (hack/tools)
# and client-go (go.mod) differ in version: the generated client must be what the client-go it is
# compiled against expects.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
gen=$(cd hack/tools && go list -m -f '{{.Version}}' k8s.io/code-generator)
cg=$(go list -m -f '{{.Version}}' k8s.io/client-go)
if [[ $gen != "$cg" ]]; then
	echo "verify: hack/tools pins k8s.io/code-generator $gen but go.mod has k8s.io/client-go $cg; make them equal" >&2
	exit 1
fi
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp -a api config charts pkg "$before/"
make -s generate >/dev/null
if ! diff -r "$before/api" api >/dev/null || ! diff -r "$before/config" config >/dev/null || ! diff -r "$before/charts" charts >/dev/null ||
	! diff -r "$before/pkg" pkg >/dev/null; then
	echo "verify: generated files were out of date with api/v3 or the RBAC markers and have now been regenerated:" >&2
	diff -rq "$before/api" api >&2 || true
	diff -rq "$before/config" config >&2 || true
	diff -rq "$before/charts" charts >&2 || true
	diff -rq "$before/pkg" pkg >&2 || true
	echo "verify: review and commit them" >&2
	exit 1
fi
